"""COCO JSON reader: `images`, `annotations` (bbox = [x, y, w, h] pixels) and `categories`.

Category ids map to contiguous class indices in ascending id order (or to a fixed `class_names` list by name).
Crowd annotations (`iscrowd: 1`) are kept apart as `Sample.crowd_boxes`: training ignores anchors on them, and
evaluation scores against the file's own annotations (`coco_ground_truth`), crowd regions and areas included,
as pycocotools does on the same file.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from spinenet_lite.data.dataset import (
    CocoSource,
    DetectionDataset,
    ProblemLog,
    clean_boxes,
    make_sample,
    probe_image,
    require_dir,
    require_file,
    resolve_inside,
)
from spinenet_lite.errors import SpineNetLiteError


def _load_json(path: Path) -> dict:
    require_file(path, "COCO annotation file", "pass the path of an instances_*.json file")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise SpineNetLiteError(f"{path}: annotation file is empty; regenerate or re-export it")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SpineNetLiteError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}); fix or re-export it") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise SpineNetLiteError(f"{path}: not a COCO detection file (no 'images' list); expected keys images, "
                                "annotations, categories")
    if not isinstance(data.get("annotations"), list):
        raise SpineNetLiteError(f"{path}: no 'annotations' list; a COCO detection file lists its boxes there "
                                "(an empty list when no image has objects)")
    if not isinstance(data.get("categories"), list) or not data["categories"]:
        raise SpineNetLiteError(f"{path}: no 'categories' list; a COCO file must name its classes")
    return data


def read_coco(annotation_file: str | Path, image_root: str | Path | None = None,
              class_names: tuple[str, ...] = ()) -> DetectionDataset:
    """Read a COCO detection JSON; images are looked up under image_root (default: the JSON's folder)."""
    annotation_file = Path(annotation_file)
    data = _load_json(annotation_file)
    root = require_dir(Path(image_root) if image_root else annotation_file.parent, "COCO image folder",
                       "set data.root to the folder holding the images")
    log = ProblemLog()

    categories = {}
    for cat in data["categories"]:
        if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
            raise SpineNetLiteError(f"{annotation_file}: category {cat!r} lacks 'id' or 'name'")
        categories[int(cat["id"])] = str(cat["name"])
    if class_names:
        names = tuple(class_names)
        index = {name: i for i, name in enumerate(names)}
        cat_to_label = {cid: index[name] for cid, name in categories.items() if name in index}
        for cid, name in categories.items():
            if name not in index:
                log.add(annotation_file, "unknown_class", f"category {name!r} (id {cid}) is not in data.class_names; "
                        "its boxes are dropped")
    else:
        names = tuple(categories[cid] for cid in sorted(categories))
        cat_to_label = {cid: i for i, cid in enumerate(sorted(categories))}

    anns_by_image = defaultdict(list)
    for ann in data.get("annotations") or []:
        if not isinstance(ann, dict) or "image_id" not in ann or "bbox" not in ann:
            log.add(annotation_file, "bad_annotation", f"annotation {str(ann)[:60]} lacks image_id or bbox; skipped")
            continue
        anns_by_image[ann["image_id"]].append(ann)

    samples, seen_ids, seen_files, id_pairs = [], set(), set(), []
    for img in data["images"]:
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            log.add(annotation_file, "bad_annotation", f"image entry {str(img)[:60]} lacks id or file_name; skipped")
            continue
        image_id, file_name = img["id"], str(img["file_name"])
        if image_id in seen_ids or file_name in seen_files:
            log.add(annotation_file, "duplicate_image", f"image id {image_id} ({file_name}) appears twice; "
                    "the later entry is skipped")
            continue
        seen_ids.add(image_id)
        seen_files.add(file_name)
        path = resolve_inside(root, file_name, log, annotation_file)
        if path is None:
            continue
        size = probe_image(path, log, (int(img.get("width") or 0), int(img.get("height") or 0)))
        if size is None:
            continue
        boxes, labels, crowd = [], [], []
        for ann in anns_by_image.get(image_id, []):
            cid = ann.get("category_id")
            if cid not in cat_to_label:
                if cid not in categories:
                    log.add(path, "unknown_class", f"annotation {ann.get('id')} has category_id {cid!r}, not in "
                            "categories; dropped")
                continue
            bbox = ann["bbox"]
            if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
                log.add(path, "bad_annotation", f"annotation {ann.get('id')} bbox {bbox!r} is not [x, y, w, h]")
                continue
            x, y, w, h = (float(v) for v in bbox)
            if ann.get("iscrowd"):
                crowd.append([x, y, x + w, y + h])
                continue
            boxes.append([x, y, x + w, y + h])
            labels.append(cat_to_label[cid])
        boxes, labels = clean_boxes(boxes, labels, size[0], size[1], log, path)
        crowd, _ = clean_boxes(crowd, [0] * len(crowd), size[0], size[1], log, f"{path} (crowd)")
        numeric_id = image_id if isinstance(image_id, int) else len(samples)
        id_pairs.append((image_id, numeric_id))
        samples.append(make_sample(numeric_id, path, size[0], size[1], boxes, labels, crowd, size[2]))
    unknown_images = set(anns_by_image) - seen_ids
    if unknown_images:
        log.add(annotation_file, "bad_annotation", f"{sum(len(anns_by_image[i]) for i in unknown_images)} "
                f"annotations refer to {len(unknown_images)} unknown image ids; skipped")
    label_to_cat = {label: cid for cid, label in cat_to_label.items()}
    source = CocoSource(annotation_file, tuple(label_to_cat.get(i, -1) for i in range(len(names))),
                        tuple(id_pairs))
    return DetectionDataset(names, tuple(samples), root, tuple(log.items), source)


def coco_ground_truth(dataset: DetectionDataset, class_names: tuple[str, ...] | None = None) -> dict:
    """The COCO ground truth of a COCO-format dataset, from its own annotation file.

    Every annotation of the dataset's images and classes is kept as the file has it (bbox, area, iscrowd), so
    scores equal pycocotools' on the file; only ids are renumbered to the dataset's (image_id of the Sample,
    category id = class index + 1) and images the reader skipped are left out.
    """
    source = dataset.coco_source
    if source is None:
        raise SpineNetLiteError(f"{dataset.root}: not read from a COCO file; no annotation file to score against")
    data = _load_json(Path(source.annotation_file))
    present = {int(s.image_id) for s in dataset.samples}  # a subset (dataset.replace) keeps only its images
    image_ids = {file_id: sample_id for file_id, sample_id in source.image_ids if sample_id in present}
    categories = {cid: label for label, cid in enumerate(source.category_ids) if cid != -1}
    names = list(class_names if class_names is not None else dataset.class_names)
    images = [{"id": int(s.image_id), "width": int(s.width), "height": int(s.height), "file_name": Path(s.path).name}
              for s in dataset.samples]
    annotations = []
    for ann in data.get("annotations") or []:
        if not isinstance(ann, dict) or ann.get("image_id") not in image_ids or ann.get("category_id") not in categories:
            continue
        bbox = ann.get("bbox")
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            continue
        x, y, w, h = (float(v) for v in bbox)
        annotations.append({
            "id": len(annotations) + 1, "image_id": image_ids[ann["image_id"]],
            "category_id": categories[ann["category_id"]] + 1, "bbox": [x, y, w, h],
            "area": float(ann["area"]) if "area" in ann else w * h, "iscrowd": int(bool(ann.get("iscrowd", 0))),
        })
    return {"images": images, "annotations": annotations,
            "categories": [{"id": i + 1, "name": str(n)} for i, n in enumerate(names)]}
