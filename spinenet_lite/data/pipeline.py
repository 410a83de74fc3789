"""The tf.data input pipeline: decode, augment (training) or letterbox (eval), targets, batch, prefetch.

Images are decoded with `preprocess.load_image` (PIL) inside `tf.numpy_function`, so grayscale, palette, RGBA,
CMYK and EXIF-rotated files load exactly as they do for prediction and export; tf.io.decode_jpeg rejects CMYK.
An image that fails to decode is skipped and counted in a warning, never a crash.
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from spinenet_lite.config import DataConfig
from spinenet_lite.data.augment import random_flip, scale_jitter_crop
from spinenet_lite.data.dataset import DetectionDataset
from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.keras import tf
from spinenet_lite.preprocess import letterbox, load_image
from spinenet_lite.targets import IGNORE

logger = logging.getLogger(__name__)
MAX_BOXES = 100  # boxes per image in the padded {"boxes", "labels"} output


class _Loader:
    """Decodes sample i; remembers which files failed so the warning names them once."""

    def __init__(self, ds: DetectionDataset, with_crowd: bool) -> None:
        self.samples = ds.samples
        self.with_crowd = with_crowd
        self.failed: dict[str, str] = {}

    def __call__(self, index: np.int64):
        sample = self.samples[int(index)]
        try:
            image = load_image(sample.path)
        except SpineNetLiteError as err:
            if str(sample.path) not in self.failed:
                self.failed[str(sample.path)] = str(err)
                logger.warning("skipping unreadable image (%d so far): %s", len(self.failed), err)
            return np.zeros((1, 1, 3), np.uint8), sample.boxes, sample.labels, False
        # Boxes were checked against the header size; a mismatch here means the file changed since reading.
        if self.with_crowd and len(sample.crowd_boxes):  # crowd regions ride along labelled IGNORE
            return (image, np.concatenate([sample.boxes, sample.crowd_boxes]),
                    np.concatenate([sample.labels, np.full(len(sample.crowd_boxes), IGNORE, np.int32)]), True)
        return image, sample.boxes, sample.labels, True


def make_dataset(
    ds: DetectionDataset,
    input_size: int,
    batch_size: int,
    training: bool,
    target_fn: Callable | None = None,
    seed: int | None = None,
    data_cfg: DataConfig | None = None,
    max_boxes: int = MAX_BOXES,
) -> tf.data.Dataset:
    """A batched, prefetched tf.data pipeline over a DetectionDataset.

    Training: shuffle, horizontal flip (data_cfg.hflip), scale jitter [scale_min, scale_max] with a random crop to
    S x S, drop_remainder. Eval: letterbox only, in dataset order, last partial batch kept.
    With `target_fn(boxes_yxyx, labels) -> (cls_targets, box_targets)` (e.g. assign_targets with anchors bound),
    yields (images, {"cls_targets", "box_targets"}); otherwise (images, {"boxes" [B, max_boxes, 4] normalised yxyx,
    "labels" [B, max_boxes] padded with -1; in training crowd regions are rows labelled -2}) plus, in eval, "image_id" and "scale" (letterbox scale) per image.
    Deterministic for a given seed.
    """
    if len(ds) == 0:
        raise SpineNetLiteError(f"{ds.root}: the dataset has no usable images; run `spinenet-lite data check`")
    if training and len(ds) < batch_size:
        raise SpineNetLiteError(f"{ds.root}: {len(ds)} images is fewer than batch size {batch_size}; lower "
                                "train.batch_size")
    cfg = data_cfg or DataConfig()
    loader = _Loader(ds, with_crowd=training)
    ids = tf.constant([s.image_id for s in ds.samples], tf.int64)

    def load(index, rand):
        image, boxes, labels, ok = tf.numpy_function(loader, [index], [tf.uint8, tf.float32, tf.int32, tf.bool],
                                                     stateful=False)
        image = tf.ensure_shape(image, [None, None, 3])
        return index, rand, image, tf.reshape(boxes, [-1, 4]), tf.reshape(labels, [-1]), tf.reshape(ok, [])

    def transform(index, rand, image, boxes, labels, ok):
        if training:
            seed_flip, seed_crop = tf.unstack(tf.random.experimental.stateless_split(tf.stack([rand, index]), 2))
            if cfg.hflip:
                image, boxes = random_flip(image, boxes, seed_flip)
            image, boxes_yxyx, labels = scale_jitter_crop(image, boxes, labels, input_size, cfg.scale_min,
                                                          cfg.scale_max, seed_crop)
            return index, image, boxes_yxyx, labels, tf.constant(1.0)
        image, scale = letterbox(image, input_size)
        boxes_yxyx = tf.clip_by_value(tf.gather(boxes, [1, 0, 3, 2], axis=1) * scale / float(input_size), 0.0, 1.0)
        return index, image, boxes_yxyx, labels, scale

    def finish(index, image, boxes, labels, scale):
        if target_fn is not None:
            cls_targets, box_targets = target_fn(boxes, labels)
            return image, {"cls_targets": cls_targets, "box_targets": box_targets}
        n = tf.minimum(tf.shape(labels)[0], max_boxes)
        pad = max_boxes - n
        out = {
            "boxes": tf.ensure_shape(tf.pad(boxes[:n], [[0, pad], [0, 0]]), [max_boxes, 4]),
            "labels": tf.ensure_shape(tf.pad(labels[:n], [[0, pad]], constant_values=-1), [max_boxes]),
        }
        if not training:
            out["image_id"] = tf.gather(ids, index)
            out["scale"] = scale
        return image, out

    order = tf.data.Dataset.range(len(ds))
    if training:
        order = order.shuffle(len(ds), seed=seed, reshuffle_each_iteration=True)
    rand = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    data = tf.data.Dataset.zip((order, rand))
    data = data.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    data = data.filter(lambda index, rand, image, boxes, labels, ok: ok)
    data = data.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    data = data.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    data = data.batch(batch_size, drop_remainder=training)
    return data.prefetch(tf.data.AUTOTUNE)

