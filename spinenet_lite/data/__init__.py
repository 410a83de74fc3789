"""Datasets: readers, the embedded synthetic set, checks and the tf.data pipeline.

`load_dataset(data_cfg, split)` is the one entry point: it dispatches on `data_cfg.format` and returns a
`DetectionDataset` (see dataset.py).
"""
from __future__ import annotations

import logging
from pathlib import Path

from spinenet_lite.config import DataConfig
from spinenet_lite.data.dataset import DetectionDataset, Problem, Sample
from spinenet_lite.errors import SpineNetLiteError, suggest

FORMATS = ("synthetic", "coco", "voc", "yolo", "tfrecord")
logger = logging.getLogger(__name__)

__all__ = ["DetectionDataset", "Problem", "Sample", "FORMATS", "load_dataset", "split_name"]


def split_name(data_cfg: DataConfig, split: str) -> str:
    """'train'/'val' resolve to the config's split fields; anything else is used as given."""
    return {"train": data_cfg.train, "val": data_cfg.val}.get(split, split)


def load_dataset(data_cfg: DataConfig, split: str = "train", warn_skipped: bool = True) -> DetectionDataset:
    """Read one split of the dataset the config names ('train', 'val', or a split name/file of the format).

    tfrecord: data.train / data.val are file globs (relative to data.root, local or gs://); the training split
    is a `TFRecordSource` that `pipeline.make_dataset` reads in the graph, other splits are unpacked once into
    the image cache as a DetectionDataset, since evaluation reads images by path.

    Problems (clipped or dropped boxes, missing images, ...) are collected in `.problems`; samples whose image
    is missing or unreadable are skipped and counted in a warning.
    """
    fmt = data_cfg.format
    if fmt not in FORMATS:
        raise SpineNetLiteError(f"data.format: unknown format {fmt!r}{suggest(fmt, FORMATS)}; one of {', '.join(FORMATS)}")
    which = split_name(data_cfg, split)
    names = tuple(data_cfg.class_names)
    if fmt == "synthetic":
        from spinenet_lite.data.coco import read_coco
        from spinenet_lite.data.synthetic import generate_synthetic

        if which not in ("train", "val"):
            raise SpineNetLiteError(f"data.{split}: the synthetic set has splits 'train' and 'val', not {which!r}")
        folder = generate_synthetic(data_cfg.synthetic_images, data_cfg.synthetic_seed, data_cfg.root or None)
        ds = read_coco(folder / f"{which}.json", folder, names)
    elif fmt == "coco":
        from spinenet_lite.data.coco import read_coco

        if not data_cfg.root and not which:
            raise SpineNetLiteError("data.root: empty; set it to the COCO image folder and data.train/val to the JSON files")
        ds = read_coco(_coco_annotation_file(data_cfg, split, which), data_cfg.root or None, names)
    elif fmt == "tfrecord":
        import posixpath

        from spinenet_lite.data.tfrecord import open_tfrecords, unpack_tfrecords

        pattern = which if "://" in which or which.startswith("/") or not data_cfg.root else posixpath.join(
            data_cfg.root, which)
        source = open_tfrecords(pattern, names)
        return source if split == "train" else unpack_tfrecords(source)
    elif fmt == "voc":
        from spinenet_lite.data.voc import read_voc

        ds = read_voc(_require_root(data_cfg), which, names)
    else:
        from spinenet_lite.data.yolo import read_yolo

        ds = read_yolo(_require_root(data_cfg), which, names)
    skipped = sum(1 for p in ds.problems if p.kind in ("missing_image", "corrupt_image", "path_escapes_root"))
    if skipped and warn_skipped:
        logger.warning("%s split %r: %d image(s) skipped (missing, unreadable or outside the root); "
                       "run `spinenet-lite data check` for the list", fmt, which, skipped)
    return ds


# Where a COCO split's annotation file usually is, relative to the image folder (data.root) or the folder above it.
COCO_SPLIT_FILES = ("annotations/instances_{}.json", "annotations/instances_{}2017.json", "annotations/{}.json",
                    "{}.json")


def _coco_annotation_file(data_cfg: DataConfig, split: str, which: str) -> Path:
    """The annotation file of a COCO split: a path (as given, or under data.root), or for a bare split name such
    as 'train' the first of COCO_SPLIT_FILES found beside the image folder or one folder up."""
    ann = Path(which)
    root = Path(data_cfg.root) if data_cfg.root else None
    if ann.is_absolute() or ann.is_file() or root is None:
        return ann
    if ann.suffix.lower() == ".json":  # beside the images, or one folder up (images/ and annotations/ side by side)
        return root / which if (root / which).is_file() or not (root.parent / which).is_file() else root.parent / which
    tried = [base / pattern.format(which) for base in (root, root.parent) for pattern in COCO_SPLIT_FILES]
    for candidate in tried:
        if candidate.is_file():
            return candidate
    raise SpineNetLiteError(f"data.{split}: no COCO annotation file for split {which!r} (looked for "
                            f"{', '.join(COCO_SPLIT_FILES).format(*[which] * 4)} in {root} and {root.parent}); "
                            f"set data.{split} to the .json file")


def _require_root(data_cfg: DataConfig) -> str:
    if not data_cfg.root:
        raise SpineNetLiteError(f"data.root: empty; set it to the {data_cfg.format} dataset "
                                f"{'data YAML' if data_cfg.format == 'yolo' else 'folder'}")
    return data_cfg.root
