"""TFRecord datasets in the layout of the TF Object Detection API / Model Garden, read and written.

Each record is a tf.train.Example with `image/encoded` (JPEG or PNG bytes), `image/format`, `image/height`,
`image/width`, `image/filename`, `image/source_id`, `image/object/bbox/{xmin,ymin,xmax,ymax}` (normalised),
`image/object/class/label` (label-map id: class index + 1), `image/object/class/text` and
`image/object/is_crowd`. The class list sits beside the shards in `classes.txt` (line i: id i + 1) unless
`data.class_names` gives it. All file access goes through tf.io.gfile, so paths may be gs:// URLs.
"""
from __future__ import annotations

import functools
import hashlib
import io
import posixpath
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinenet_lite.data.dataset import DetectionDataset, make_sample
from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.keras import tf
from spinenet_lite.targets import IGNORE

CLASSES_FILE = "classes.txt"


@dataclass(frozen=True)
class TFRecordSource:
    """A file glob of TFRecord shards and the class names; `make_dataset` reads it in the graph."""

    pattern: str
    class_names: tuple[str, ...]
    files: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        """Number of records (counted by reading the shards once)."""
        return _count_records(self.files)

    def records(self, training: bool, input_context: Any = None) -> tf.data.Dataset:
        """(image_id, encoded bytes, boxes [n, 4] normalised xyxy, labels [n]) per record; with several input
        pipelines each reads its own shard files."""
        files = tf.data.Dataset.from_tensor_slices(list(self.files))
        if input_context is not None and input_context.num_input_pipelines > 1:
            if len(self.files) < input_context.num_input_pipelines:
                raise SpineNetLiteError(f"{self.pattern}: {len(self.files)} file(s) cannot be split over "
                                        f"{input_context.num_input_pipelines} input pipelines; write more shards "
                                        "(data convert --shards)")
            files = files.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        if training:
            files = files.shuffle(len(self.files), reshuffle_each_iteration=True)
        data = files.interleave(tf.data.TFRecordDataset, cycle_length=min(len(self.files), 8),
                                num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
        num_classes = len(self.class_names)
        return data.map(lambda record: parse_example(record, num_classes, training),
                        num_parallel_calls=tf.data.AUTOTUNE)


@functools.lru_cache(maxsize=32)
def _count_records(files: tuple[str, ...]) -> int:
    return int(tf.data.TFRecordDataset(list(files)).reduce(np.int64(0), lambda n, _: n + 1))


_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/source_id": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "image/object/bbox/xmin": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/ymin": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/xmax": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/ymax": tf.io.VarLenFeature(tf.float32),
    "image/object/class/label": tf.io.VarLenFeature(tf.int64),
    "image/object/is_crowd": tf.io.VarLenFeature(tf.int64),
}


def parse_example(record: tf.Tensor, num_classes: int, with_crowd: bool) -> tuple:
    """One serialized Example -> (image_id int64, encoded, boxes xyxy normalised [n, 4], labels int32 [n]).

    Labels are class indices (label-map id - 1); crowd boxes are IGNORE rows when `with_crowd`, else dropped,
    as are boxes of ids outside 1..num_classes. A numeric source_id is the image id, else its hash."""
    f = tf.io.parse_single_example(record, _FEATURES)
    dense = {k: tf.sparse.to_dense(v) for k, v in f.items() if isinstance(v, tf.SparseTensor)}
    boxes = tf.stack([dense[f"image/object/bbox/{k}"] for k in ("xmin", "ymin", "xmax", "ymax")], axis=1)
    labels = tf.cast(dense["image/object/class/label"], tf.int32) - 1
    crowd = tf.zeros_like(labels, tf.bool)
    is_crowd = dense["image/object/is_crowd"]
    crowd = tf.cond(tf.size(is_crowd) == tf.size(labels), lambda: is_crowd > 0, lambda: crowd)
    keep = crowd if with_crowd else tf.zeros_like(crowd)
    keep = keep | (~crowd & (labels >= 0) & (labels < num_classes))
    labels = tf.where(crowd, IGNORE, labels)
    source = f["image/source_id"]
    numeric = tf.strings.regex_full_match(source, "[0-9]{1,18}")
    image_id = tf.cond(numeric, lambda: tf.strings.to_number(source, tf.int64),
                       lambda: tf.strings.to_hash_bucket_fast(source, 2**62))
    return image_id, f["image/encoded"], tf.boolean_mask(boxes, keep), tf.boolean_mask(labels, keep)


def open_tfrecords(pattern: str, class_names: tuple[str, ...] = ()) -> TFRecordSource:
    """The shards matching `pattern` (a glob, local or gs://) and their class names."""
    files = tuple(sorted(tf.io.gfile.glob(pattern)))
    if not files:
        raise SpineNetLiteError(f"{pattern}: no TFRecord files match; set data.train/val to a glob such as "
                                "'data/train-*.tfrecord'")
    names = tuple(class_names)
    if not names:
        classes = posixpath.join(posixpath.dirname(files[0]), CLASSES_FILE)
        if not tf.io.gfile.exists(classes):
            raise SpineNetLiteError(f"{classes}: not found; list the class names in it (line i: label id i + 1) "
                                    "or set data.class_names")
        with tf.io.gfile.GFile(classes, "r") as f:
            names = tuple(line.strip() for line in f.read().splitlines() if line.strip())
    return TFRecordSource(pattern, names, files)


def _example(sample, encoded: bytes, fmt: str, class_names: tuple[str, ...]) -> bytes:
    def floats(v):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(x) for x in v]))

    def ints(v):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(x) for x in v]))

    def strings(v):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(v)))

    boxes = np.concatenate([sample.boxes, sample.crowd_boxes]).reshape(-1, 4)
    boxes = boxes / np.float32([sample.width, sample.height] * 2)
    n, n_crowd = len(sample.labels), len(sample.crowd_boxes)
    ids = [int(label) + 1 for label in sample.labels] + [0] * n_crowd  # a crowd region's class is not kept
    text = [class_names[int(label)].encode() for label in sample.labels] + [b""] * n_crowd
    feature = {
        "image/encoded": strings([encoded]), "image/format": strings([fmt.encode()]),
        "image/height": ints([sample.height]), "image/width": ints([sample.width]),
        "image/filename": strings([str(sample.path.name).encode()]),
        "image/source_id": strings([str(sample.image_id).encode()]),
        "image/object/bbox/xmin": floats(boxes[:, 0]), "image/object/bbox/ymin": floats(boxes[:, 1]),
        "image/object/bbox/xmax": floats(boxes[:, 2]), "image/object/bbox/ymax": floats(boxes[:, 3]),
        "image/object/class/label": ints(ids), "image/object/class/text": strings(text),
        "image/object/is_crowd": ints([0] * n + [1] * n_crowd),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _encoded(sample) -> tuple[bytes, str]:
    """The file's own bytes when tf.io decodes them as `load_image` reads them, else a PNG of `load_image`."""
    from PIL import Image

    from spinenet_lite.preprocess import load_image

    if sample.tf_decodable:
        data = sample.path.read_bytes()
        return data, "png" if data[:4] == b"\x89PNG" else "jpeg"
    buffer = io.BytesIO()
    Image.fromarray(load_image(sample.path)).save(buffer, "PNG")
    return buffer.getvalue(), "png"


def write_tfrecords(ds: DetectionDataset, out_dir: str, split: str, shards: int) -> list[str]:
    """Write `ds` as `out_dir/{split}-0000i-of-0000N.tfrecord` plus `classes.txt`; each file is written under a
    temporary name and renamed when complete. Unreadable images are skipped (named in the returned problems
    of the reader). Returns the file names."""
    if shards < 1:
        raise SpineNetLiteError(f"--shards: must be >= 1, got {shards}")
    if not len(ds):
        raise SpineNetLiteError(f"{ds.root}: no usable images to convert; run `spinenet-lite data check`")
    tf.io.gfile.makedirs(out_dir)
    names = []
    for shard in range(shards):
        name = posixpath.join(out_dir, f"{split}-{shard:05d}-of-{shards:05d}.tfrecord")
        tmp = name + ".tmp"
        with tf.io.TFRecordWriter(tmp) as writer:
            for sample in ds.samples[shard::shards]:
                encoded, fmt = _encoded(sample)
                writer.write(_example(sample, encoded, fmt, ds.class_names))
        tf.io.gfile.rename(tmp, name, overwrite=True)
        names.append(name)
    classes = posixpath.join(out_dir, CLASSES_FILE)
    with tf.io.gfile.GFile(classes + ".tmp", "w") as f:
        f.write("".join(f"{n}\n" for n in ds.class_names))
    tf.io.gfile.rename(classes + ".tmp", classes, overwrite=True)
    return names


def unpack_tfrecords(source: TFRecordSource, cache_dir: str | Path | None = None) -> DetectionDataset:
    """The records as a DetectionDataset whose images are files in the cache (written once), for evaluation,
    which reads images by path. Crowd boxes become crowd_boxes; boxes are pixels of the decoded image."""
    from spinenet_lite.data.image_cache import DEFAULT_CACHE
    from spinenet_lite.io import atomic_write_bytes

    key = hashlib.sha1("|".join(source.files).encode()).hexdigest()[:16]
    folder = Path(cache_dir or DEFAULT_CACHE.parent / "records") / key
    samples = []
    for record in _plain_records(source):
        image_id, encoded, boxes, labels = (t.numpy() for t in record)
        jpeg = encoded[:2] == b"\xff\xd8"
        shape = tf.io.extract_jpeg_shape(encoded) if jpeg else tf.shape(
            tf.io.decode_image(encoded, channels=3, expand_animations=False))
        height, width = int(shape[0]), int(shape[1])
        path = folder / f"{image_id}.{'jpg' if jpeg else 'png'}"
        if not path.is_file():
            atomic_write_bytes(path, encoded)
        pixels = boxes.reshape(-1, 4) * np.float32([width, height, width, height])
        crowd = labels == IGNORE
        samples.append(make_sample(image_id, path, width, height, pixels[~crowd], labels[~crowd], pixels[crowd]))
    return DetectionDataset(source.class_names, tuple(samples), folder)


def _plain_records(source: TFRecordSource):
    data = tf.data.TFRecordDataset(list(source.files))
    return data.map(lambda r: parse_example(r, len(source.class_names), True))
