"""COCO box metrics with faster-coco-eval, and the loop that runs any detect function over a dataset.

All AP values are COCO AP in points 0..100, as the paper reports them. -1 means "no ground truth in this
range" (the COCO convention, e.g. APs on a dataset without small objects).

Detections for evaluation are per image: {"image_id", "boxes" [m, 4] xyxy pixels in the original image,
"scores" [m], "labels" [m] class index 0..C-1}. COCO category ids are class index + 1.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.report import AP_KEYS

DetectFn = Callable[[np.ndarray], list]


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


def evaluate(
    detect_fn: DetectFn, dataset: Any, input_size: int, batch_size: int = 8, progress: bool = True
) -> dict:
    """Run `detect_fn` over every image of `dataset` and score it with COCO metrics.

    Each image is loaded and letterboxed by `spinenet_lite.preprocess` (the one pre-processing), boxes are
    mapped back to the original image by `spinenet_lite.postprocess.to_original_image`. Returns the metrics
    of `coco_metrics` plus "detections" (per image, original pixels), "images_per_second" (detect_fn only),
    "seconds" (whole loop) and "num_images".
    """
    from tqdm import tqdm

    from spinenet_lite.postprocess import to_original_image
    from spinenet_lite.preprocess import letterbox, load_image

    if batch_size < 1:
        raise SpineNetLiteError(f"batch_size: must be >= 1, got {batch_size}")
    samples = list(dataset.samples)
    detections: list[dict] = []
    detect_seconds = 0.0
    start = time.perf_counter()
    with tqdm(total=len(samples), desc="eval", unit="img", file=sys.stderr, disable=not progress) as bar:
        for first in range(0, len(samples), batch_size):
            chunk = samples[first: first + batch_size]
            images, scales = [], []
            for sample in chunk:
                image, scale = letterbox(load_image(sample.path), input_size)
                images.append(np.asarray(image, np.float32))
                scales.append(float(np.asarray(scale)))
            batch = np.stack(images)
            tic = time.perf_counter()
            outputs = detect_fn(batch)
            detect_seconds += time.perf_counter() - tic
            if len(outputs) != len(chunk):
                raise SpineNetLiteError(
                    f"detect function returned {len(outputs)} results for a batch of {len(chunk)}; "
                    "it must return one dict per image"
                )
            for sample, scale, out in zip(chunk, scales, outputs):
                boxes = np.asarray(out["boxes"], np.float32).reshape(-1, 4)
                boxes = to_original_image(boxes, input_size, scale, (sample.height, sample.width))
                detections.append(
                    {"image_id": int(sample.image_id), "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
                     "scores": np.asarray(out["scores"], np.float32).reshape(-1),
                     "labels": np.asarray(out["labels"], np.int32).reshape(-1)}
                )
            bar.update(len(chunk))
    seconds = time.perf_counter() - start
    metrics = coco_metrics(dataset, detections)
    metrics["detections"] = detections
    metrics["num_images"] = len(samples)
    metrics["images_per_second"] = len(samples) / detect_seconds if detect_seconds > 0 else 0.0
    metrics["seconds"] = seconds
    return metrics


def keras_detect_fn(
    model: Any, input_size: int, score_threshold: float = 0.05, iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> DetectFn:
    """A detect function for a tf_keras model with outputs {"box_encodings", "class_logits"}.

    Decoding and NMS run in one tf.function with `spinenet_lite.postprocess.postprocess` over the anchors of
    `spinenet_lite.anchors.generate_anchors(input_size)`. Returned boxes are normalised yxyx in the
    letterboxed frame, labels are class indices 0..C-1.
    """
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.keras import tf
    from spinenet_lite.postprocess import postprocess

    anchors = tf.constant(generate_anchors(input_size), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, input_size, input_size, 3], tf.float32)])
    def run(batch):
        outputs = model(batch, training=False)
        return postprocess(
            outputs["box_encodings"], outputs["class_logits"], anchors, score_threshold=score_threshold,
            iou_threshold=iou_threshold, max_detections=max_detections,
        )

    def detect(batch: np.ndarray) -> list[dict]:
        out = {k: v.numpy() for k, v in run(tf.convert_to_tensor(batch, tf.float32)).items()}
        results = []
        for i in range(out["boxes"].shape[0]):
            n = int(out["num_detections"][i])
            results.append(
                {"boxes": out["boxes"][i, :n], "scores": out["scores"][i, :n],
                 "labels": out["classes"][i, :n].astype(np.int32)}
            )
        return results

    return detect


def evaluate_run(
    run_or_checkpoint: str | Path, data: str | Path | None = None, data_format: str | None = None,
    split: str = "val", batch_size: int = 8, progress: bool = True,
) -> dict:
    """Evaluate a trained run folder or checkpoint on its recipe's data (or on `data` in `data_format`).

    Returns the `evaluate` dict plus "model" (the run path) and "split".
    """
    import dataclasses

    from spinenet_lite.data import load_dataset
    from spinenet_lite.runs import load_trained

    trained = load_trained(run_or_checkpoint)
    data_cfg = trained.recipe.data
    if data is not None:
        data_cfg = dataclasses.replace(data_cfg, root=str(data), format=data_format or data_cfg.format)
    elif data_format is not None:
        data_cfg = dataclasses.replace(data_cfg, format=data_format)
    if not data_cfg.class_names:  # read the data in the model's class order
        data_cfg = dataclasses.replace(data_cfg, class_names=tuple(trained.class_names))
    dataset = load_dataset(data_cfg, split)
    dropped = sum(1 for p in dataset.problems if p.kind == "unknown_class")
    if dropped:
        print(f"warning: {dropped} box(es) of classes the model does not know were left out of the "
              f"evaluation; run `spinenet-lite data check` for the list", file=sys.stderr)
    if list(dataset.class_names) != list(trained.class_names):
        raise SpineNetLiteError(
            f"{data_cfg.root or data_cfg.format}: classes {list(dataset.class_names)} differ from the model's "
            f"{list(trained.class_names)}; evaluate on data with the classes it was trained on"
        )
    input_size = int(trained.recipe.model.input_size)
    export = trained.recipe.export
    detect = keras_detect_fn(
        trained.model, input_size, score_threshold=export.score_threshold,
        iou_threshold=export.iou_threshold, max_detections=export.max_detections,
    )
    result = evaluate(detect, dataset, input_size, batch_size=batch_size, progress=progress)
    result["model"] = str(trained.path)
    result["split"] = split
    return result
