"""`data check` as a Python API: detect the format, decode every image, count, list problems, draw a mosaic."""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from spinenet_lite.config import DataConfig
from spinenet_lite.data.dataset import PROBLEM_KINDS, DetectionDataset, Problem
from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.preprocess import load_image

DEFAULT_SPLIT = {"voc": "all", "yolo": "train", "synthetic": "train", "coco": ""}


@dataclass(frozen=True)
class CheckReport:
    """What `data check` found: the dataset (unreadable samples removed) and every problem."""

    data_cfg: DataConfig
    split: str
    dataset: DetectionDataset
    problems: tuple[Problem, ...]

    @property
    def usable(self) -> bool:
        return len(self.dataset) > 0


def detect_format(path: str, fmt: str = "auto", images: str | None = None) -> DataConfig:
    """A DataConfig for a dataset path: 'synthetic', a COCO .json, a YOLO data .yaml, or a VOC/YOLO folder.
    `images` is a COCO set's image folder (data.root; default: the .json's folder)."""
    if path == "synthetic" or fmt == "synthetic":
        return DataConfig(format="synthetic")
    p = Path(path)
    if not p.exists():
        raise SpineNetLiteError(f"{path}: no such file or folder; pass a dataset folder, a COCO .json, a YOLO "
                                "data .yaml or 'synthetic'")
    if fmt == "auto":
        if p.is_file() and p.suffix == ".json":
            fmt = "coco"
        elif p.is_file() and p.suffix in (".yaml", ".yml"):
            fmt = "yolo"
        elif (p / "Annotations").is_dir():
            fmt = "voc"
        elif p.is_dir() and any(p.glob("*.yaml")):
            fmt = "yolo"
        elif p.is_dir() and (any(p.glob("*.json")) or any(p.glob("annotations/*.json"))):
            raise SpineNetLiteError(f"{path}: looks like COCO; pass the annotation .json file itself")
        else:
            raise SpineNetLiteError(f"{path}: cannot tell the format (no Annotations/, *.yaml or .json); "
                                    "use --format coco|voc|yolo")
    if fmt == "coco":
        if p.is_dir():
            raise SpineNetLiteError(f"{path}: for COCO pass the annotation .json file")
        return DataConfig(format="coco", root=str(images or p.parent), train=str(p))
    if images:
        raise SpineNetLiteError(f"--images {images}: only for COCO, whose file names are relative to an image folder; "
                                f"a {fmt} dataset names its own images")
    if fmt == "yolo" and p.is_dir():
        yamls = sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml"))
        if not yamls:
            raise SpineNetLiteError(f"{path}: no data .yaml in this folder; pass the YOLO data YAML")
        p = yamls[0]
    return DataConfig(format=fmt, root=str(p))


def decode_all(ds: DetectionDataset) -> tuple[DetectionDataset, list[Problem]]:
    """Fully decode every image; unreadable ones become corrupt_image problems and leave the dataset."""
    keep, problems = [], []
    for sample in ds.samples:
        try:
            image = load_image(sample.path)
        except SpineNetLiteError as err:
            problems.append(Problem(str(sample.path), "corrupt_image", f"{err}"))
            continue
        if image.shape[:2] != (sample.height, sample.width):
            problems.append(Problem(str(sample.path), "size_mismatch", f"decoded {image.shape[1]}x{image.shape[0]}, "
                                    f"header said {sample.width}x{sample.height}"))
        keep.append(sample)
    return ds.replace(samples=tuple(keep)), problems


def check_dataset(path: str, fmt: str = "auto", split: str | None = None, decode: bool = True,
                  images: str | None = None) -> CheckReport:
    """Load a dataset like training would, decode every image, and collect all problems."""
    from spinenet_lite.data import load_dataset

    cfg = detect_format(path, fmt, images)
    split = split if split is not None else DEFAULT_SPLIT[cfg.format]
    if cfg.format == "coco":
        split = split or cfg.train
    ds = load_dataset(dataclasses.replace(cfg, train=split), "train", warn_skipped=False)
    problems = list(ds.problems)
    if decode:
        ds, extra = decode_all(ds)
        problems.extend(extra)
    return CheckReport(cfg, split, ds, tuple(problems))


def format_report(report: CheckReport, per_kind: int = 5) -> str:
    """Counts, boxes per class and problems grouped by kind (first few each, with totals)."""
    ds = report.dataset
    lines = [f"dataset: {report.data_cfg.format} {report.data_cfg.root or '(embedded)'} split={report.split or '-'}",
             f"images: {len(ds)} usable, boxes: {ds.num_boxes()}, classes: {ds.num_classes}"]
    no_boxes = sum(1 for s in ds.samples if len(s.labels) == 0)
    if no_boxes:
        lines.append(f"images without boxes: {no_boxes}")
    width = max((len(n) for n in ds.class_names), default=5)
    for name, count in ds.boxes_per_class().items():
        lines.append(f"  {name:<{width}}  {count}")
    groups: dict[str, list[Problem]] = defaultdict(list)
    for problem in report.problems:
        groups[problem.kind].append(problem)
    if not groups:
        lines.append("problems: none")
    else:
        lines.append(f"problems: {len(report.problems)}")
        for kind, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"  {kind} ({PROBLEM_KINDS.get(kind, kind)}): {len(items)}")
            for p in items[:per_kind]:
                lines.append(f"    {p.path}: {p.message}")
            if len(items) > per_kind:
                lines.append(f"    ... and {len(items) - per_kind} more")
    return "\n".join(lines)


def write_mosaic(ds: DetectionDataset, out_path: str | Path, count: int = 12, cols: int = 4) -> Path:
    """Draw `count` images spread over the dataset (those with boxes first) with their boxes into one PNG."""
    from spinenet_lite.io import atomic_write_bytes
    from spinenet_lite.visualize import draw_detections, mosaic

    with_boxes = [s for s in ds.samples if len(s.labels)] or list(ds.samples)
    step = max(1, len(with_boxes) // count)
    chosen = with_boxes[::step][:count]
    tiles = [draw_detections(load_image(s.path), s.boxes, s.labels, None, ds.class_names) for s in chosen]
    import io

    buf = io.BytesIO()
    mosaic(tiles, cols).save(buf, format="PNG")
    out_path = Path(out_path)
    atomic_write_bytes(out_path, buf.getvalue())
    return out_path
