"""The one internal dataset representation every reader returns, and the box checks they share.

Boxes are float32 [n, 4] xyxy in pixels of the original image (after EXIF orientation); labels are int32 class
indices into `class_names`. Problems found while reading are collected, never silently dropped.
"""
from __future__ import annotations

import dataclasses
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.preprocess import read_header

# Kinds of problems; `data check` groups by these.
PROBLEM_KINDS = {
    "missing_image": "image file missing (sample skipped)",
    "corrupt_image": "image file cannot be decoded (sample skipped)",
    "image_mode": "image is not RGB (converted to RGB)",
    "size_mismatch": "annotated size differs from the image file (file size used)",
    "box_clipped": "box extends outside the image (clipped)",
    "box_degenerate": "zero-area or inverted box (dropped)",
    "unknown_class": "unknown class id or name (box dropped)",
    "empty_annotation": "annotation file is empty",
    "duplicate_image": "duplicate image id or file (later copy skipped)",
    "path_escapes_root": "path points outside the dataset root (refused)",
    "bad_annotation": "malformed annotation entry (skipped)",
}


@dataclass(frozen=True)
class Problem:
    """One problem found in the data: which file, what kind (a PROBLEM_KINDS key), and a human message."""

    path: str
    kind: str
    message: str


@dataclass(frozen=True)
class Sample:
    """One image and its boxes (xyxy pixels) and labels (class indices)."""

    image_id: int
    path: Path
    width: int
    height: int
    boxes: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    # COCO crowd regions (`iscrowd: 1`), xyxy pixels: never positives or negatives in training.
    crowd_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32), repr=False)
    # tf.io decodes the file as `load_image` reads it (see preprocess.read_header); if not, the training
    # pipeline decodes it once with `load_image` into its image cache.
    tf_decodable: bool = True


@dataclass(frozen=True)
class CocoSource:
    """Where a COCO-format dataset came from, so evaluation scores against the file's own annotations.

    `category_ids[i]` is the file's category id of class index i; `image_ids` pairs each file image id with
    the Sample's image_id (they differ when the file uses string ids).
    """

    annotation_file: Path
    category_ids: tuple[int, ...]
    image_ids: tuple[tuple, ...]


@dataclass(frozen=True)
class DetectionDataset:
    """A labelled detection dataset: class names, samples, the root folder and the problems found."""

    class_names: tuple[str, ...]
    samples: tuple[Sample, ...]
    root: Path
    problems: tuple[Problem, ...] = ()
    coco_source: CocoSource | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.samples)

    def num_boxes(self) -> int:
        return int(sum(len(s.labels) for s in self.samples))

    def boxes_per_class(self) -> dict[str, int]:
        """Box count per class name (every class listed, zero included)."""
        counts = Counter(int(label) for s in self.samples for label in s.labels)
        return {name: counts.get(i, 0) for i, name in enumerate(self.class_names)}

    def problem_counts(self) -> dict[str, int]:
        return dict(Counter(p.kind for p in self.problems))

    def replace(self, **changes) -> "DetectionDataset":
        return dataclasses.replace(self, **changes)


class ProblemLog:
    """Collects problems while a reader runs."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: str | Path, kind: str, message: str) -> None:
        assert kind in PROBLEM_KINDS, kind
        self.items.append(Problem(str(path), kind, message))


def resolve_inside(root: Path, relative: str | Path, log: ProblemLog, where: str | Path) -> Path | None:
    """root / relative, or None (reported) when the resolved path leaves root (absolute paths, `..`, symlinks)."""
    root_real = Path(os.path.realpath(root))
    candidate = Path(os.path.realpath(root / relative))
    if candidate != root_real and root_real not in candidate.parents:
        log.add(where, "path_escapes_root", f"{relative} resolves outside the dataset root {root}; refused")
        return None
    return candidate


def probe_image(path: Path, log: ProblemLog, annotated: tuple[int, int] | None = None) -> tuple[int, int, bool] | None:
    """The image's (width, height, tf_decodable) from its header, or None with a problem if missing or unreadable.

    Reports a size mismatch against the annotated size (the file wins) and non-RGB modes (converted at load).
    """
    if not path.is_file():
        log.add(path, "missing_image", "image file not found; sample skipped")
        return None
    try:
        width, height, mode, tf_decodable = read_header(path)
    except SpineNetLiteError as err:
        log.add(path, "corrupt_image", f"{err}; sample skipped")
        return None
    if mode != "RGB":
        log.add(path, "image_mode", f"mode {mode}, converted to RGB at load")
    if annotated and all(annotated) and tuple(annotated) != (width, height):
        log.add(path, "size_mismatch", f"annotation says {annotated[0]}x{annotated[1]}, file is {width}x{height}")
    return width, height, tf_decodable


# How far a box may reach past the image edge and still count as inside: normalised coordinates written with 6
# decimals (YOLO) land up to ~0.001 px outside, and pixel formats that count the last pixel as its far edge
# (x1 = width) are common; both are rounding, not a labelling mistake.
ROUNDING_PX = 1.0


def clean_boxes(
    boxes: np.ndarray, labels: np.ndarray, width: int, height: int, log: ProblemLog, where: str | Path
) -> tuple[np.ndarray, np.ndarray]:
    """Clip boxes to the image (reported when more than `ROUNDING_PX` outside) and drop zero-area or inverted
    ones (reported)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    labels = np.asarray(labels, np.int32).reshape(-1)
    keep = np.ones(len(boxes), bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        if not np.all(np.isfinite(boxes[i])) or x1 <= x0 or y1 <= y0:
            log.add(where, "box_degenerate", f"box {i} [{x0:g}, {y0:g}, {x1:g}, {y1:g}] has no area; dropped")
            keep[i] = False
            continue
        clipped = np.array([max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)], np.float32)
        if max(-x0, -y0, x1 - width, y1 - height) < ROUNDING_PX:  # inside but for rounding: clip, nothing to say
            boxes[i] = clipped
            continue
        if not np.array_equal(clipped, boxes[i]):
            if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                log.add(where, "box_degenerate", f"box {i} [{x0:g}, {y0:g}, {x1:g}, {y1:g}] lies outside the "
                        f"{width}x{height} image; dropped")
                keep[i] = False
                continue
            log.add(where, "box_clipped", f"box {i} [{x0:g}, {y0:g}, {x1:g}, {y1:g}] clipped to the "
                    f"{width}x{height} image")
            boxes[i] = clipped
    return boxes[keep], labels[keep]


def make_sample(image_id: int, path: Path, width: int, height: int, boxes, labels, crowd_boxes=(),
                tf_decodable: bool = True) -> Sample:
    """A Sample with arrays in the canonical dtypes and shapes."""
    return Sample(
        image_id=int(image_id),
        path=Path(path),
        width=int(width),
        height=int(height),
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        labels=np.asarray(labels, np.int32).reshape(-1),
        crowd_boxes=np.asarray(crowd_boxes, np.float32).reshape(-1, 4),
        tf_decodable=bool(tf_decodable),
    )


def require_dir(path: Path, what: str, fix: str) -> Path:
    """path if it is a folder, else a SpineNetLiteError naming it."""
    if not Path(path).is_dir():
        raise SpineNetLiteError(f"{path}: {what} not found; {fix}")
    return Path(path)


def require_file(path: Path, what: str, fix: str) -> Path:
    """path if it is a file, else a SpineNetLiteError naming it."""
    if not Path(path).is_file():
        raise SpineNetLiteError(f"{path}: {what} not found; {fix}")
    return Path(path)
