"""YOLO reader: a data YAML (`path`, `train`/`val`/`test`, `names`) and one `class xc yc w h` txt per image.

Split entries are image folders, txt files listing images, or lists of those. Label files live where the image
path has `labels` instead of its last `images` folder, with a .txt suffix. Coordinates are normalised to 0..1.
A missing label file means an image without objects; an empty one is reported and kept as a background image.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from spinenet_lite.data.dataset import (
    DetectionDataset,
    ProblemLog,
    clean_boxes,
    make_sample,
    probe_image,
    require_file,
    resolve_inside,
)
from spinenet_lite.errors import SpineNetLiteError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _names(cfg: dict, yaml_path: Path) -> tuple[str, ...]:
    names = cfg.get("names")
    if isinstance(names, dict):
        try:
            ids = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise SpineNetLiteError(f"{yaml_path}: names keys must be class ids 0..n-1") from None
        if ids != list(range(len(ids))):
            raise SpineNetLiteError(f"{yaml_path}: names ids must be 0..{len(ids) - 1} without gaps, got {ids}")
        return tuple(str(names[k] if k in names else names[str(k)]) for k in ids)
    if isinstance(names, list) and names:
        return tuple(str(n) for n in names)
    raise SpineNetLiteError(f"{yaml_path}: 'names' missing or empty; list the class names, e.g. names: [cat, dog]")


def _label_path(image: Path) -> Path:
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def _images(root: Path, entry, yaml_path: Path, log: ProblemLog) -> list[Path]:
    entries = entry if isinstance(entry, list) else [entry]
    images: list[Path] = []
    for item in entries:
        source = resolve_inside(root, str(item), log, yaml_path)
        if source is None:
            continue
        if source.is_dir():
            found = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise SpineNetLiteError(f"{source}: split folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
            images.extend(found)
        elif source.is_file() and source.suffix == ".txt":
            lines = [line.strip() for line in source.read_text().splitlines() if line.strip()]
            if not lines:
                raise SpineNetLiteError(f"{source}: split list names no images; write one image path per line")
            for line in lines:
                path = resolve_inside(root, line, log, source)
                if path is not None:
                    images.append(path)
        else:
            raise SpineNetLiteError(f"{yaml_path}: split entry {item!r} is neither an image folder nor a .txt list "
                                    f"(looked at {source})")
    return images


def _read_labels(label_file: Path, width: int, height: int, num_yaml: int, log: ProblemLog):
    boxes, ids = [], []
    text = label_file.read_text(errors="replace")
    if not text.strip():
        log.add(label_file, "empty_annotation", "label file is empty; image kept as a background image")
        return boxes, ids
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            cls = float(fields[0])
            xc, yc, w, h = (float(v) for v in fields[1:5])
            if len(fields) != 5 or cls != int(cls):
                raise ValueError
        except ValueError:
            log.add(label_file, "bad_annotation", f"line {n} {line.strip()!r} is not 'class xc yc w h'; skipped")
            continue
        if not 0 <= int(cls) < num_yaml:
            log.add(label_file, "unknown_class", f"line {n}: class id {int(cls)} not in names (0..{num_yaml - 1}); "
                    "dropped")
            continue
        boxes.append([(xc - w / 2) * width, (yc - h / 2) * height, (xc + w / 2) * width, (yc + h / 2) * height])
        ids.append(int(cls))
    return boxes, ids


def read_yolo(data_yaml: str | Path, split: str = "train", class_names: tuple[str, ...] = ()) -> DetectionDataset:
    """Read one split ('train', 'val', 'test') of a YOLO dataset described by its data YAML."""
    yaml_path = require_file(Path(data_yaml), "YOLO data YAML", "set data.root to the dataset's data.yaml")
    try:
        cfg = yaml.safe_load(yaml_path.read_text())
    except yaml.YAMLError as err:
        raise SpineNetLiteError(f"{yaml_path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(cfg, dict):
        raise SpineNetLiteError(f"{yaml_path}: empty or not a mapping; expected keys path, train, val, names")
    yaml_names = _names(cfg, yaml_path)
    root = Path(cfg.get("path") or ".")
    root = root if root.is_absolute() else (yaml_path.parent / root)
    if not root.is_dir():
        raise SpineNetLiteError(f"{yaml_path}: dataset path {root} not found; fix the 'path' key")
    if split not in cfg or cfg[split] in (None, ""):
        keys = [k for k in ("train", "val", "test") if cfg.get(k)]
        raise SpineNetLiteError(f"{yaml_path}: no split {split!r}; the YAML has {', '.join(keys) or 'no splits'}")
    log = ProblemLog()
    names = tuple(class_names) or yaml_names
    index = {name: i for i, name in enumerate(names)}
    remap = {k: index.get(name, -1) for k, name in enumerate(yaml_names)}
    for k, target in remap.items():
        if target < 0:
            log.add(yaml_path, "unknown_class", f"class {yaml_names[k]!r} is not in data.class_names; boxes dropped")
    samples, seen = [], set()
    for number, image in enumerate(_images(root, cfg[split], yaml_path, log)):
        if image in seen:
            log.add(image, "duplicate_image", "image listed twice in the split; the repeat is skipped")
            continue
        seen.add(image)
        size = probe_image(image, log)
        if size is None:
            continue
        boxes, labels = [], []
        label_file = _label_path(image)
        if label_file.is_file():
            raw, ids = _read_labels(label_file, size[0], size[1], len(yaml_names), log)
            for box, k in zip(raw, ids):
                if remap[k] >= 0:
                    boxes.append(box)
                    labels.append(remap[k])
            boxes, labels = clean_boxes(boxes, labels, size[0], size[1], log, label_file)
        samples.append(make_sample(number, image, size[0], size[1], boxes, labels, tf_decodable=size[2]))
    return DetectionDataset(names, tuple(samples), root, tuple(log.items))
