"""ONNX export (tf2onnx, opset 17) with box decoding and non-maximum suppression inside the graph.

The ONNX graph mirrors the TFLite one: batch 1, float32 0..255 input, outputs detection_boxes [1, M, 4]
(normalised yxyx), detection_classes [1, M], detection_scores [1, M], num_detections [1], padded to M =
max_detections. Decoding and NMS are `spinenet_lite.postprocess.postprocess` itself (per class, as the evaluator and
TFLite_Detection_PostProcess with regular NMS), so the formats return the same detections.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from spinenet_lite.errors import SpineNetLiteError

OPSET = 17


def detection_function(model, anchors: np.ndarray, score_threshold: float = 0.05, iou_threshold: float = 0.5,
                       max_detections: int = 100):
    """A batch-1 tf.function: model -> decode -> per-class NMS -> four padded outputs."""
    from spinenet_lite.export.tflite import frozen_raw_function
    from spinenet_lite.keras import tf
    from spinenet_lite.postprocess import postprocess

    size = int(model.input_shape[1])
    anchors = np.asarray(anchors, np.float32)  # made a constant inside the graph: a captured eager tensor
    # would become a second ONNX input
    frozen = frozen_raw_function(model)  # constants only: tf2onnx leaves no captured variable as a graph input

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="images")])
    def serve(images):
        box_encodings, class_logits = frozen(images)
        out = postprocess(box_encodings, class_logits, tf.constant(anchors), score_threshold=score_threshold,
                          iou_threshold=iou_threshold, max_detections=max_detections)
        return {"detection_boxes": tf.clip_by_value(out["boxes"], 0.0, 1.0),
                "detection_classes": tf.cast(out["classes"], tf.float32), "detection_scores": out["scores"],
                "num_detections": tf.cast(out["num_detections"], tf.float32)}
    return serve


def convert(model, anchors: np.ndarray, score_threshold: float = 0.05, iou_threshold: float = 0.5,
            max_detections: int = 100) -> bytes:
    """The serialized ONNX model (opset 17)."""
    try:
        import tf2onnx
    except ImportError:
        raise SpineNetLiteError("onnx: tf2onnx is not installed; run: pip install 'spinenet-lite[export]'") from None
    fn = detection_function(model, anchors, score_threshold, iou_threshold, max_detections)
    try:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=OPSET)
    except Exception as err:  # tf2onnx raises assorted types
        raise SpineNetLiteError(f"onnx: conversion failed ({str(err).splitlines()[0][:200]})") from err
    return proto.SerializeToString()


def write(target, path: Path, model, anchors: np.ndarray, class_names, recipe, calibration=None) -> None:
    """One artifact of this format at `path` (the signature every format module shares; see formats.py)."""
    cfg = recipe.export
    path.write_bytes(convert(model, anchors, cfg.score_threshold, cfg.iou_threshold, cfg.max_detections))
