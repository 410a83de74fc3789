"""COCO box metrics with faster-coco-eval: a DetectionDataset and per-image detections in, AP figures out.

All AP values are COCO AP in points 0..100, as the paper reports them. -1 means "no ground truth in this
range" (the COCO convention, e.g. APs on a dataset without small objects).

Detections for evaluation are per image: {"image_id", "boxes" [m, 4] xyxy pixels in the original image,
"scores" [m], "labels" [m] class index 0..C-1}. COCO category ids are class index + 1.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.report import AP_KEYS


def _quiet(*args: Any, **kwargs: Any) -> None:
    """A print function that prints nothing (faster-coco-eval logs through one)."""


def dataset_to_coco(dataset: Any, class_names: Sequence[str] | None = None) -> dict:
    """COCO ground truth (dict) of a DetectionDataset, category ids 1..C.

    A COCO-format dataset is scored against its own annotation file (crowd regions and areas as written there,
    see `data.coco.coco_ground_truth`); any other: xyxy -> xywh, area w*h, iscrowd 0.
    """
    if getattr(dataset, "coco_source", None) is not None:
        from spinenet_lite.data.coco import coco_ground_truth

        return coco_ground_truth(dataset, None if class_names is None else tuple(class_names))
    names = list(class_names if class_names is not None else dataset.class_names)
    images, annotations = [], []
    for sample in dataset.samples:
        images.append(
            {"id": int(sample.image_id), "width": int(sample.width), "height": int(sample.height),
             "file_name": Path(sample.path).name}
        )
        boxes = np.asarray(sample.boxes, np.float64).reshape(-1, 4)
        labels = np.asarray(sample.labels).reshape(-1)
        for box, label in zip(boxes, labels):
            if not 0 <= int(label) < len(names):
                raise SpineNetLiteError(
                    f"{sample.path}: label {int(label)} outside 0..{len(names) - 1}; check the class list"
                )
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append(
                {"id": len(annotations) + 1, "image_id": int(sample.image_id), "category_id": int(label) + 1,
                 "bbox": [float(box[0]), float(box[1]), w, h], "area": w * h, "iscrowd": 0}
            )
    categories = [{"id": i + 1, "name": str(n)} for i, n in enumerate(names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def detections_to_coco(detections: Sequence[dict]) -> list[dict]:
    """COCO results list ({image_id, category_id, bbox xywh, score}) from per-image detection dicts."""
    results = []
    for det in detections:
        boxes = np.asarray(det["boxes"], np.float64).reshape(-1, 4)
        scores = np.asarray(det["scores"], np.float64).reshape(-1)
        labels = np.asarray(det["labels"]).reshape(-1)
        if not len(boxes) == len(scores) == len(labels):
            raise SpineNetLiteError(
                f"detections for image {det['image_id']}: boxes/scores/labels lengths differ "
                f"({len(boxes)}/{len(scores)}/{len(labels)}); the detect function must return one of each"
            )
        for box, score, label in zip(boxes, scores, labels):
            results.append(
                {"image_id": int(det["image_id"]), "category_id": int(label) + 1,
                 "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])],
                 "score": float(score)}
            )
    return results


def score_coco(gt: dict, results: list[dict], verbose: bool = False, where: str = "detections") -> dict:
    """Score a COCO results list against a COCO ground-truth dict with faster-coco-eval.

    Returns {AP, AP50, AP75, APs, APm, APl, per_class {name: AP}} in points 0..100, as the paper reports AP;
    -1 means no ground truth in that range (COCO's convention).
    """
    from faster_coco_eval import COCO, COCOeval_faster

    printer = print if verbose else _quiet
    for key in ("images", "annotations", "categories"):
        if not isinstance(gt.get(key), list):
            raise SpineNetLiteError(f"ground truth: missing list {key!r}; expected a COCO instances file")
    image_ids = {img["id"] for img in gt["images"]}
    cat_ids = {cat["id"] for cat in gt["categories"]}
    for res in results:
        if res.get("image_id") not in image_ids:
            raise SpineNetLiteError(
                f"{where}: image_id {res.get('image_id')!r} is not in the ground truth; use the same image ids"
            )
        if res.get("category_id") not in cat_ids:
            raise SpineNetLiteError(
                f"{where}: category_id {res.get('category_id')!r} is not in the ground truth categories "
                f"{sorted(cat_ids)}; use the ground truth's ids"
            )
        if "bbox" not in res or "score" not in res:
            raise SpineNetLiteError(f"{where}: every result needs 'bbox' [x, y, w, h] and 'score'")
    coco_gt = COCO(gt, use_deepcopy=True, print_function=printer)
    coco_dt = coco_gt.loadRes([dict(r) for r in results])
    coco_eval = COCOeval_faster(coco_gt, coco_dt, "bbox", print_function=printer)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    stats = [_points(float(s)) for s in coco_eval.stats[: len(AP_KEYS)]]
    metrics: dict[str, Any] = dict(zip(AP_KEYS, stats))
    if not gt["annotations"]:
        metrics.update({k: -1.0 for k in AP_KEYS})
    metrics["per_class"] = _per_class_ap(coco_eval, gt["categories"])
    return metrics


def _per_class_ap(coco_eval: Any, categories: list[dict]) -> dict[str, float]:
    """AP at IoU 0.50:0.95, all areas, max dets, for each category; -1 for a class without ground truth."""
    precision = np.asarray(coco_eval.eval["precision"])  # [T, R, K, A, M]
    cat_order = list(coco_eval.params.catIds)
    names = {cat["id"]: str(cat.get("name", cat["id"])) for cat in categories}
    out = {}
    for k, cat_id in enumerate(cat_order):
        p = precision[:, :, k, 0, -1]
        valid = p[p > -1]
        out[names[cat_id]] = _points(float(valid.mean())) if valid.size else -1.0
    return out


def _points(fraction: float) -> float:
    """A COCO precision fraction in AP points (x100); COCO's -1 (no ground truth) stays -1."""
    return -1.0 if fraction == -1.0 else 100.0 * fraction


def coco_metrics(
    dataset: Any, detections: Sequence[dict], class_names: Sequence[str] | None = None, verbose: bool = False
) -> dict:
    """COCO AP, AP50, AP75, APs/m/l and per-class AP (points 0..100) of detections on a DetectionDataset.

    No detections at all gives AP 0 (not an error). faster-coco-eval's printing is silenced unless verbose.
    """
    gt = dataset_to_coco(dataset, class_names)
    return score_coco(gt, detections_to_coco(detections), verbose=verbose)


def _load_json(path: str | Path, what: str) -> Any:
    path = Path(path)
    if not path.is_file():
        raise SpineNetLiteError(f"{path}: {what} file not found; pass an existing COCO JSON file")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SpineNetLiteError(f"{path}: not valid JSON ({err}); pass a COCO {what} file") from None


def coco_metrics_from_files(gt_path: str | Path, dets_path: str | Path, verbose: bool = False) -> dict:
    """Score a standard COCO results file (list of {image_id, category_id, bbox, score}) against COCO GT."""
    gt = _load_json(gt_path, "ground truth")
    if not isinstance(gt, dict):
        raise SpineNetLiteError(f"{gt_path}: expected a COCO instances dict with images/annotations/categories")
    results = _load_json(dets_path, "detections")
    if isinstance(results, dict) and "annotations" in results:
        results = results["annotations"]
    if not isinstance(results, list):
        raise SpineNetLiteError(f"{dets_path}: expected a list of {{image_id, category_id, bbox, score}}")
    return score_coco(gt, results, verbose=verbose, where=str(dets_path))
