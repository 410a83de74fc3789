"""ONNX export of the real spinenet49xxs: tf2onnx opset 17 with NMS in the graph, run in onnxruntime, against the
same detection function run by TensorFlow on the Keras model, and against TFLite fp32."""
from __future__ import annotations

import numpy as np
import onnx as onnx_lib

from spinenet_lite.anchors import generate_anchors
from spinenet_lite.export import onnx
from spinenet_lite.runtimes.onnx import ONNXRunner, onnx_detect_fn
from spinenet_lite.runtimes.tflite import tflite_detect_fn


def test_onnx_graph_has_opset_17_and_nms(export_kit, tmp_path):
    graph = onnx_lib.load(str(export_kit.artifact_file("onnx-fp32", tmp_path)))
    assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert any(n.op_type == "NonMaxSuppression" for n in graph.graph.node)


def test_onnxruntime_matches_keras(export_kit, tmp_path):
    """onnxruntime returns what the same graph returns in TensorFlow on the Keras model."""
    kit = export_kit
    fn = onnx.detection_function(kit.model, generate_anchors(kit.size), kit.score_threshold, 0.5, kit.max_detections)
    runner = ONNXRunner(export_kit.artifact_file("onnx-fp32", tmp_path))
    for image in export_kit.images(2):
        want = {k: v.numpy() for k, v in fn(image[None]).items()}
        got = runner.run(image[None])
        n = int(want["num_detections"][0])
        assert n > 0 and int(got["num_detections"][0]) == n
        np.testing.assert_array_equal(got["detection_classes"][0, :n], want["detection_classes"][0, :n])
        np.testing.assert_allclose(got["detection_scores"][0, :n], want["detection_scores"][0, :n], atol=1e-4)
        np.testing.assert_allclose(got["detection_boxes"][0, :n], want["detection_boxes"][0, :n], atol=1e-4)


def test_onnx_top_detections_match_tflite_fp32(export_kit, tmp_path):
    batch = export_kit.images(2)
    pairs = zip(onnx_detect_fn(export_kit.artifact_file("onnx-fp32", tmp_path))(batch),
                tflite_detect_fn(export_kit.artifact_file("tflite-fp32", tmp_path))(batch))
    for a, b in pairs:
        assert len(a["boxes"]) > 0 and len(b["boxes"]) > 0
        assert a["labels"][0] == b["labels"][0]
        np.testing.assert_allclose(a["scores"][0], b["scores"][0], atol=1e-4)
        np.testing.assert_allclose(a["boxes"][0], b["boxes"][0], atol=1e-4)
