"""Evaluation: the loop that runs any detect function over a dataset and scores it with COCO metrics
(`spinenet_lite.metrics`), and the evaluation of a trained run on its recipe's data.

Detect functions come from `spinenet_lite.runtimes` (Keras, TFLite, ONNX Runtime); AP values are points 0..100.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.metrics import coco_metrics
from spinenet_lite.runtimes import DetectFn


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
    result = evaluate(trained.detect_fn(), dataset, trained.input_size, batch_size=batch_size, progress=progress)
    result["model"] = str(trained.path)
    result["split"] = split
    return result
