"""Pascal VOC reader: `Annotations/*.xml`, `JPEGImages/`, splits in `ImageSets/Main/<split>.txt`.

Class names, unless fixed by `class_names`, are the sorted set of names over *all* annotation files, so every
split maps names to the same indices. Split 'all' (or '') reads every annotation file.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from spinenet_lite.data.dataset import (
    DetectionDataset,
    ProblemLog,
    clean_boxes,
    make_sample,
    probe_image,
    require_dir,
    resolve_inside,
)
from spinenet_lite.errors import SpineNetLiteError


def _parse(xml_path: Path) -> dict | None:
    """{'filename', 'size': (w, h), 'objects': [(name, [x0, y0, x1, y1] or None)]}; None for an empty file."""
    text = xml_path.read_bytes()
    if not text.strip():
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise SpineNetLiteError(f"{xml_path}: not valid XML ({err}); fix or delete the annotation file") from None
    size = root.find("size")
    width = _num(size, "width") if size is not None else None
    height = _num(size, "height") if size is not None else None
    objects = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        bnd = obj.find("bndbox")
        coords = [_num(bnd, k) for k in ("xmin", "ymin", "xmax", "ymax")] if bnd is not None else [None]
        objects.append((name, None if any(c is None for c in coords) else coords))
    return {"filename": (root.findtext("filename") or "").strip(), "size": (int(width or 0), int(height or 0)),
            "objects": objects}


def _num(node, tag: str) -> float | None:
    try:
        return float((node.findtext(tag) or "").strip())
    except (TypeError, ValueError):
        return None


def _split_ids(root: Path, split: str, log: ProblemLog) -> list[str]:
    if split in ("", "all"):
        return sorted(p.stem for p in (root / "Annotations").glob("*.xml"))
    split_file = root / "ImageSets" / "Main" / f"{split}.txt"
    if not split_file.is_file():
        have = sorted(p.stem for p in (root / "ImageSets" / "Main").glob("*.txt"))
        raise SpineNetLiteError(f"{split_file}: split file not found; available splits: {', '.join(have) or 'none'} "
                                "(or use split 'all')")
    ids, seen = [], set()
    for line in split_file.read_text().splitlines():
        parts = line.split()
        if not parts or (len(parts) > 1 and parts[1] == "-1"):  # per-class lists mark negatives with -1
            continue
        if parts[0] in seen:
            log.add(split_file, "duplicate_image", f"image id {parts[0]} listed twice; the repeat is skipped")
            continue
        seen.add(parts[0])
        ids.append(parts[0])
    if not ids:
        raise SpineNetLiteError(f"{split_file}: split file lists no images; write one image id (the file name "
                                "without extension) per line")
    return ids


def read_voc(root: str | Path, split: str = "train", class_names: tuple[str, ...] = ()) -> DetectionDataset:
    """Read one split of a Pascal VOC folder into a DetectionDataset."""
    root = require_dir(Path(root), "VOC dataset folder", "set data.root to the folder holding Annotations/")
    require_dir(root / "Annotations", "VOC Annotations folder", "a VOC dataset needs Annotations/*.xml")
    log = ProblemLog()
    ids = _split_ids(root, split, log)
    parsed: dict[str, dict | None] = {}
    for image_id in ids:
        xml_path = resolve_inside(root / "Annotations", f"{image_id}.xml", log, root / "Annotations")
        if xml_path is None:
            continue
        if not xml_path.is_file():
            log.add(xml_path, "missing_image", "annotation file for a listed image is missing; skipped")
            continue
        parsed[image_id] = _parse(xml_path)
    if class_names:
        names = tuple(class_names)
    else:  # all files, so train and val agree on the indices
        all_names = set()
        for xml_path in sorted((root / "Annotations").glob("*.xml")):
            info = parsed.get(xml_path.stem, None) if xml_path.stem in parsed else _parse_quiet(xml_path)
            all_names.update(name for name, _ in (info or {}).get("objects", []) if name)
        names = tuple(sorted(all_names))
    index = {name: i for i, name in enumerate(names)}
    samples = []
    for number, (image_id, info) in enumerate(parsed.items()):
        xml_path = root / "Annotations" / f"{image_id}.xml"
        if info is None:
            log.add(xml_path, "empty_annotation", "annotation file is empty; sample skipped")
            continue
        file_name = info["filename"] or f"{image_id}.jpg"
        path = resolve_inside(root / "JPEGImages", file_name, log, xml_path)
        if path is None:
            continue
        if not path.is_file() and (root / "JPEGImages" / f"{image_id}.jpg").is_file():
            path = root / "JPEGImages" / f"{image_id}.jpg"  # <filename> often lies after renames
        size = probe_image(path, log, info["size"])
        if size is None:
            continue
        boxes, labels = [], []
        for k, (name, coords) in enumerate(info["objects"]):
            if name not in index:
                log.add(xml_path, "unknown_class", f"object {k} has class {name!r}, not in {list(names)}; dropped")
                continue
            if coords is None:
                log.add(xml_path, "bad_annotation", f"object {k} ({name}) has no numeric bndbox; dropped")
                continue
            boxes.append(coords)
            labels.append(index[name])
        boxes, labels = clean_boxes(boxes, labels, size[0], size[1], log, xml_path)
        samples.append(make_sample(number, path, size[0], size[1], boxes, labels, tf_decodable=size[2]))
    return DetectionDataset(names, tuple(samples), root, tuple(log.items))


def _parse_quiet(xml_path: Path) -> dict | None:
    try:
        return _parse(xml_path)
    except SpineNetLiteError:
        return None  # reported when its own split is read
