"""The Keras runtime: a tf_keras detector's detect function, and the decoding of raw outputs that every raw
runtime shares (`spinenet_lite.postprocess`, the one post-processing, over `generate_anchors(input_size)`)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from spinenet_lite.runtimes import DetectFn


def split_images(out: dict) -> list[dict]:
    """Per-image detections from batched postprocess outputs (boxes, scores, classes, num_detections)."""
    out = {k: np.asarray(v) for k, v in out.items()}
    results = []
    for i in range(out["boxes"].shape[0]):
        n = int(out["num_detections"][i])
        results.append({"boxes": out["boxes"][i, :n], "scores": out["scores"][i, :n],
                        "labels": out["classes"][i, :n].astype(np.int32)})
    return results


def keras_detect_fn(
    model: Any, input_size: int, score_threshold: float = 0.05, iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> DetectFn:
    """A detect function for a tf_keras model with outputs {"box_encodings", "class_logits"}.

    Decoding and NMS run in one tf.function with the model. Returned boxes are normalised yxyx in the
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
        return split_images(run(tf.convert_to_tensor(batch, tf.float32)))

    return detect


def recipe_detect_fn(model: Any, recipe: Any, score_threshold: float | None = None) -> DetectFn:
    """`keras_detect_fn` at the recipe's input size with its export thresholds (`score_threshold` overrides)."""
    cfg = recipe.export
    return keras_detect_fn(model, int(recipe.model.input_size),
                           score_threshold=cfg.score_threshold if score_threshold is None else score_threshold,
                           iou_threshold=cfg.iou_threshold, max_detections=cfg.max_detections)


def raw_postprocess_fn(input_size: int, score_threshold: float = 0.05, iou_threshold: float = 0.5,
                       max_detections: int = 100) -> Callable[[np.ndarray, np.ndarray], list]:
    """Decode raw (box_encodings, class_logits) batches of an exported file with the project's post-processing."""
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.keras import tf
    from spinenet_lite.postprocess import postprocess

    anchors = tf.constant(generate_anchors(input_size), tf.float32)

    def decode(box_encodings: np.ndarray, class_logits: np.ndarray) -> list:
        return split_images(postprocess(tf.constant(box_encodings), tf.constant(class_logits), anchors,
                                        score_threshold=score_threshold, iou_threshold=iou_threshold,
                                        max_detections=max_detections))
    return decode
