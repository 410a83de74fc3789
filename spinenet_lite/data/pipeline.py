"""The tf.data input pipeline, TensorFlow graph code end to end: read, decode, augment or letterbox, batch,
targets, prefetch.

Every step is a TF op (no Python per image), so it runs in parallel without the GIL and on TPU hosts:
files are read and decoded with tf.io, flip and scale jitter with crop and pad are TF ops (`augment`), eval
images go through `preprocess.letterbox`, and target assignment runs once per batch (`targets`). Training
order is shuffled and parallel maps are non-deterministic (faster) unless `deterministic=True`; the random
numbers of each image come from its seed, so a seeded pipeline is reproducible with `deterministic=True`.

Files tf.io does not decode as `load_image` reads them were found by the readers' header probe and are
normalised once into the image cache (`image_cache`); a file that cannot be read at all is skipped with one
line naming it. A file that changes after it was read and no longer decodes is skipped with TensorFlow's
warning.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from spinenet_lite.config import DataConfig
from spinenet_lite.data.augment import random_flip, scale_jitter_crop
from spinenet_lite.data.dataset import DetectionDataset
from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.keras import tf
from spinenet_lite.preprocess import letterbox
from spinenet_lite.targets import IGNORE

logger = logging.getLogger(__name__)
MAX_BOXES = 100  # boxes per image in the padded {"boxes", "labels"} output


def sample_records(ds: DetectionDataset, training: bool, cache_dir: Any = None) -> tf.data.Dataset:
    """One element per readable sample: (image_id int64, path string, boxes [n, 4] xyxy normalised by the
    image size, labels [n] int32); in training crowd regions are extra rows labelled IGNORE."""
    from spinenet_lite.data.image_cache import decodable_paths

    paths = decodable_paths(ds.samples, cache_dir)
    ids, files, boxes, labels, counts = [], [], [], [], []
    for sample, path in zip(ds.samples, paths):
        if path is None:
            continue
        b, lab = sample.boxes, sample.labels
        if training and len(sample.crowd_boxes):
            b = np.concatenate([b, sample.crowd_boxes])
            lab = np.concatenate([lab, np.full(len(sample.crowd_boxes), IGNORE, np.int32)])
        ids.append(sample.image_id)
        files.append(path)
        boxes.append(np.asarray(b, np.float32).reshape(-1, 4) / np.float32([sample.width, sample.height] * 2))
        labels.append(np.asarray(lab, np.int32).reshape(-1))
        counts.append(len(lab))
    if not ids:
        raise SpineNetLiteError(f"{ds.root}: none of the images can be read; run `spinenet-lite data check`")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    ids_t, files_t = tf.constant(ids, tf.int64), tf.constant(files)
    boxes_t, labels_t = tf.constant(np.concatenate(boxes).reshape(-1, 4)), tf.constant(np.concatenate(labels))
    starts_t, ends_t = tf.constant(starts), tf.constant(starts + np.asarray(counts, np.int64))

    def record(index):
        rows = slice(starts_t[index], ends_t[index])
        return ids_t[index], files_t[index], boxes_t[rows], labels_t[rows]

    return tf.data.Dataset.range(len(ids)).map(record)


def _decode(contents: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_image(contents, channels=3, expand_animations=False, dtype=tf.uint8)
    return tf.ensure_shape(image, [None, None, 3])


def make_dataset(
    ds: Any,
    input_size: int,
    batch_size: int,
    training: bool,
    target_fn: Callable | None = None,
    seed: int | None = None,
    data_cfg: DataConfig | None = None,
    max_boxes: int = MAX_BOXES,
    deterministic: bool | None = None,
    cache_dir: Any = None,
    input_context: Any = None,
    repeat: bool = False,
) -> tf.data.Dataset:
    """A batched, prefetched tf.data pipeline over a DetectionDataset (or a `tfrecord.TFRecordSource`).

    Training: shuffle, horizontal flip (data_cfg.hflip), scale jitter [scale_min, scale_max] with a random crop to
    S x S, drop_remainder. Eval: `letterbox` only, in dataset order, last partial batch kept.
    With `target_fn(boxes_yxyx [B, M, 4], labels [B, M]) -> (cls_targets, box_targets)` (e.g. assign_targets with
    anchors bound; called once per batch, rows padded with label -1, crowd regions labelled -2),
    yields (images, {"cls_targets", "box_targets"}); otherwise (images, {"boxes" [B, max_boxes, 4] normalised yxyx,
    "labels" [B, max_boxes] padded with -1; in training crowd regions are rows labelled -2}) plus, in eval,
    "image_id" and "scale" (letterbox scale) per image.
    deterministic: element order independent of thread timing (default: only for eval); with a seed, a
    deterministic pipeline repeats exactly. cache_dir: where images tf.io cannot decode as read are normalised
    (default ~/.cache/spinenet-lite/images). input_context: a tf.distribute.InputContext; each input pipeline
    reads its own shard (by file for TFRecords, by image otherwise) and batches per replica.
    repeat (training): endless, reshuffled at every pass over the images, so one iterator serves a whole run;
    a batch may span two passes when the image count is not a multiple of the batch size.
    """
    from spinenet_lite.data.tfrecord import TFRecordSource

    if deterministic is None:
        deterministic = not training
    if isinstance(ds, TFRecordSource):
        records = ds.records(training, input_context)
        label = str(ds.pattern)
    else:
        if len(ds) == 0:
            raise SpineNetLiteError(f"{ds.root}: the dataset has no usable images; run `spinenet-lite data check`")
        if training and len(ds) < batch_size:
            raise SpineNetLiteError(f"{ds.root}: {len(ds)} images is fewer than batch size {batch_size}; lower "
                                    "train.batch_size")
        records = sample_records(ds, training, cache_dir)
        if input_context is not None and input_context.num_input_pipelines > 1:
            records = records.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        label = str(ds.root)
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    cfg = data_cfg or DataConfig()
    count = records.cardinality()
    if training:
        shuffle = int(count) if int(count) > 0 else 10_000
        records = records.shuffle(min(shuffle, 100_000), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            records = records.repeat()
    rand = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    parallel = dict(num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)

    def load(record, rand):
        image_id, source, boxes, labels = record
        contents = source if isinstance(ds, TFRecordSource) else tf.io.read_file(source)
        image = _decode(contents)
        shape = tf.cast(tf.shape(image), tf.float32)
        xyxy = boxes * tf.stack([shape[1], shape[0], shape[1], shape[0]])
        if training:
            seed_flip, seed_crop = tf.unstack(tf.random.experimental.stateless_split(tf.stack([rand, image_id]), 2))
            if cfg.hflip:
                image, xyxy = random_flip(image, xyxy, seed_flip)
            image, yxyx, labels = scale_jitter_crop(image, xyxy, labels, input_size, cfg.scale_min, cfg.scale_max,
                                                    seed_crop)
            return image_id, image, yxyx, labels, tf.constant(1.0)
        image, scale = letterbox(image, input_size)
        yxyx = tf.clip_by_value(tf.gather(xyxy, [1, 0, 3, 2], axis=1) * scale / float(input_size), 0.0, 1.0)
        return image_id, image, yxyx, labels, scale

    data = tf.data.Dataset.zip((records, rand)).map(load, **parallel)
    data = data.ignore_errors(log_warning=True)  # a file changed since it was read: skipped, with TF's warning

    if target_fn is not None:
        data = data.map(lambda i, image, boxes, labels, scale: (image, boxes, labels))
        data = data.padded_batch(batch_size, padded_shapes=([input_size, input_size, 3], [None, 4], [None]),
                                 padding_values=(0.0, 0.0, -1), drop_remainder=training)

        def targets(images, boxes, labels):
            cls_targets, box_targets = target_fn(boxes, labels)
            return images, {"cls_targets": cls_targets, "box_targets": box_targets}

        data = data.map(targets, **parallel)
    else:
        def pad(image_id, image, boxes, labels, scale):
            n = tf.minimum(tf.shape(labels)[0], max_boxes)
            out = {
                "boxes": tf.ensure_shape(tf.pad(boxes[:n], [[0, max_boxes - n], [0, 0]]), [max_boxes, 4]),
                "labels": tf.ensure_shape(tf.pad(labels[:n], [[0, max_boxes - n]], constant_values=-1), [max_boxes]),
            }
            if not training:
                out["image_id"] = image_id
                out["scale"] = scale
            return image, out

        data = data.map(pad, **parallel).batch(batch_size, drop_remainder=training)
    options = tf.data.Options()
    options.deterministic = deterministic
    logger.debug("input pipeline over %s", label)
    return data.with_options(options).prefetch(tf.data.AUTOTUNE)
