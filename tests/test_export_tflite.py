"""TFLite export of the real spinenet49xxs (64 px): fp32 / fp16 / int8 against Keras on real BCCD images, the
detection op, metadata, MediaPipe. Each artifact is converted once per test process (conftest's `export_kit`).
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from spinenet_lite.export import metadata, tflite
from spinenet_lite.runtimes import tflite as tflite_runtime
from spinenet_lite.runtimes.tflite import TFLiteRunner, tflite_detect_fn
from spinenet_lite.targets import pairwise_iou

MEDIAPIPE_PYTHON = Path(os.environ.get("SPINENET_MEDIAPIPE_PYTHON",
                                       Path.home() / ".cache/spinenet-lite/mediapipe-venv/bin/python"))


@pytest.fixture(scope="module")
def model(export_kit):
    return export_kit.model


@pytest.fixture(scope="module")
def image(export_kit):
    return export_kit.images(1)[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("tflite")


def test_fixture_model_is_the_registry_model(export_kit, model):
    """The export tests run the real SpineNet-49XXS, not a stand-in, and its scores are spread."""
    from spinenet_lite.anchors import num_anchors

    assert model.name == export_kit.model_name
    assert model.output_shape["box_encodings"][1] == num_anchors(export_kit.size)
    scores = 1 / (1 + np.exp(-model(export_kit.images(1), training=False)["class_logits"].numpy()))
    assert scores.max() > export_kit.score_threshold and scores.std() > 0.05
    logits = model(export_kit.images(2), training=False)["class_logits"].numpy()
    assert np.abs(logits[0] - logits[1]).mean() > 0.1  # the outputs depend on the image


@pytest.mark.parametrize("precision,tol", [("fp32", 1e-4), ("fp16", 1e-2)])
def test_raw_float_matches_keras(export_kit, model, image, folder, precision, tol):
    """Raw outputs of the real model: fp32 within 1e-4 of Keras, fp16 weights within 1e-2.

    The error is relative to the output's scale (max |Keras output|, at least 1): the spread class logits reach
    about +-10, where fp16 weights through ~50 layers move single logits by a few hundredths.
    """
    out = TFLiteRunner(export_kit.artifact_file(f"tflite-{precision}-raw", folder)).run(image)
    ref = model(image[None], training=False)
    for name in tflite.RAW_OUTPUTS:
        want = ref[name].numpy()
        scale = max(1.0, float(np.abs(want).max()))
        assert float(np.abs(out[name] - want).max()) <= tol * scale, name


def test_raw_int8_cosine(export_kit, cosine, model, image, folder):
    """Full-integer int8 with exact uint8 input; raw outputs keep cosine >= 0.98 with Keras on real images."""
    runner = TFLiteRunner(export_kit.artifact_file("tflite-int8-raw", folder))
    assert runner.input["dtype"] == np.uint8 and runner.input["quantization"] == (1.0, 0)
    for img in export_kit.images(3):
        ref = model(img[None], training=False)
        for name in tflite.RAW_OUTPUTS:
            assert cosine(runner.run(img)[name], ref[name].numpy()) >= 0.98


@pytest.fixture(scope="module")
def int8_with_metadata(export_kit, folder):
    return export_kit.artifact_file("tflite-int8", folder)


def test_detection_op_layout_and_metadata(export_kit, int8_with_metadata):
    data = int8_with_metadata.read_bytes()
    assert tflite.tensor_names(data)[1] == list(tflite.DETECTION_OUTPUTS)
    assert metadata.read_labels(data) == list(export_kit.classes)
    assert metadata.read_metadata(data)[4:8] == metadata.FILE_IDENTIFIER
    from ai_edge_litert import schema_py_generated as schema

    m = schema.Model.GetRootAs(data, 0)
    ops = [m.OperatorCodes(i).CustomCode() for i in range(m.OperatorCodesLength())]
    assert b"TFLite_Detection_PostProcess" in ops


def test_fp32_detections_match_keras_postprocess(export_kit, model, folder):
    """The fused op on the fp32 model returns the boxes the project's own post-processing finds from Keras."""
    from spinenet_lite.runtimes.keras import raw_postprocess_fn

    batch = export_kit.images(2)
    decode = raw_postprocess_fn(export_kit.size, score_threshold=0.3, max_detections=10)
    for img, got in zip(batch, tflite_detect_fn(export_kit.artifact_file("tflite-fp32", folder))(batch)):
        ref = model(img[None], training=False)
        want = decode(ref["box_encodings"].numpy(), ref["class_logits"].numpy())[0]
        # every detection, not only the top one: both run per-class NMS (the op's regular mode), so an anchor
        # may give several classes and overlapping boxes of different classes both stay
        assert len(got["boxes"]) > 0 and len(got["boxes"]) == len(want["boxes"])
        np.testing.assert_array_equal(got["labels"], want["labels"])
        np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-4)
        np.testing.assert_allclose(got["boxes"], np.clip(want["boxes"], 0, 1), atol=1e-4)


def test_detection_op_keeps_every_class_of_an_anchor(tmp_path):
    """Per-class NMS, as the evaluator: one anchor scoring two classes above the threshold gives two detections
    (the op's fast mode, class-agnostic, would keep one; it cost the quickstart model 1.5 AP in fp32)."""
    from spinenet_lite.keras import keras

    anchors = np.array([[0.5, 0.5, 0.4, 0.4], [0.2, 0.2, 0.1, 0.1]], np.float32)  # yc, xc, h, w
    inputs = keras.Input((32, 32, 3), name="image")
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    boxes = keras.layers.Dense(8, kernel_initializer="zeros")(pooled)  # encodings 0: the anchors themselves
    logits = keras.layers.Dense(6, kernel_initializer="zeros",  # anchor 0: classes 0 and 1 high; anchor 1: none
                                bias_initializer=keras.initializers.Constant([3.0, 2.0, -9.0, -9.0, -9.0, -9.0]))(pooled)
    model = keras.Model(inputs, {"box_encodings": keras.layers.Reshape((2, 4))(boxes),
                                 "class_logits": keras.layers.Reshape((2, 3))(logits)})
    path = tmp_path / "two_classes.tflite"
    path.write_bytes(tflite.convert(model, anchors, "fp32", options=tflite.PostProcessOptions(score_threshold=0.3)))
    found = tflite_detect_fn(path)(np.zeros((1, 32, 32, 3), np.float32))[0]
    assert found["labels"].tolist() == [0, 1]
    np.testing.assert_allclose(found["scores"], 1 / (1 + np.exp([-3.0, -2.0])), atol=1e-5)
    np.testing.assert_allclose(found["boxes"], [[0.3, 0.3, 0.7, 0.7]] * 2, atol=1e-5)


def test_int8_top_detections_match_float(export_kit, int8_with_metadata, folder):
    """On real BCCD images int8's top detection has fp32's class and overlaps its box (IoU >= 0.4).

    The fixture model is untrained (seeded) and every box it finds
    touches the image border: its top box is a sliver whose clipped width rests on a large, coarsely quantized
    encoding (seen: x 0-0.12 in fp32, 0-0.055 in int8, IoU 0.45), so the bar is overlap, not 0.05 per coordinate.
    A trained fixture model would allow a stricter check."""
    batch = export_kit.images(2)
    fp32 = tflite_detect_fn(export_kit.artifact_file("tflite-fp32", folder))
    for a, b in zip(fp32(batch), tflite_detect_fn(int8_with_metadata)(batch)):
        assert len(a["boxes"]) > 0 and len(b["boxes"]) > 0
        assert a["labels"][0] == b["labels"][0]
        iou = float(pairwise_iou(a["boxes"][:1], b["boxes"][:1])[0, 0])
        assert iou >= 0.4, (a["boxes"][0], b["boxes"][0])


MEDIAPIPE_SCRIPT = """
import json, sys, numpy as np, mediapipe as mp
from mediapipe.tasks import python as mpt
from mediapipe.tasks.python import vision
opts = vision.ObjectDetectorOptions(base_options=mpt.BaseOptions(model_asset_path=sys.argv[1]),
                                    score_threshold=0.3, max_results=10)
detector = vision.ObjectDetector.create_from_options(opts)
image = np.load(sys.argv[2])
result = detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=image))
print(json.dumps([[d.bounding_box.origin_x, d.bounding_box.origin_y, d.bounding_box.width,
                   d.bounding_box.height, d.categories[0].category_name, d.categories[0].score]
                  for d in result.detections]))
detector.close()
"""


def mediapipe_python() -> Path:
    """The mediapipe venv's python; missing venv fails in CI (CI=true), skips elsewhere."""
    if not MEDIAPIPE_PYTHON.exists():
        message = (f"{MEDIAPIPE_PYTHON}: mediapipe venv missing; create it with "
                   "bash export/mediapipe_env.sh (.ci/run does)")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return MEDIAPIPE_PYTHON


def test_mediapipe_object_detector(export_kit, int8_with_metadata, image, tmp_path):
    """MediaPipe Tasks' ObjectDetector loads the int8 model with our metadata and returns our boxes."""
    python = mediapipe_python()
    pixels = tmp_path / "image.npy"
    np.save(pixels, image.astype(np.uint8))
    script = tmp_path / "mp.py"
    script.write_text(MEDIAPIPE_SCRIPT)
    run = subprocess.run([str(python), str(script), str(int8_with_metadata), str(pixels)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    out = TFLiteRunner(int8_with_metadata).run(image.astype(np.uint8).astype(np.float32))
    n = int(out["num_detections"][0])
    assert len(got) == n > 0
    for (x, y, w, h, name, score), box, label, s in zip(got, out["detection_boxes"][0], out["detection_classes"][0],
                                                       out["detection_scores"][0]):
        assert name == export_kit.classes[int(label)]
        assert abs(score - s) < 1e-3
        if box.min() < 0.0 or box.max() > 1.0:
            continue  # MediaPipe clamps boxes that leave the image its own way; compare the ones inside
        ymin, xmin, ymax, xmax = box * export_kit.size
        assert abs(x - xmin) <= 1.5 and abs(y - ymin) <= 1.5
        assert abs(w - (xmax - xmin)) <= 2 and abs(h - (ymax - ymin)) <= 2


def test_an_int8_model_with_a_dead_activation_is_refused_in_one_line_before_xnnpack_sees_it(tmp_path):
    """A ReLU6 squeeze that no calibration image switches on gets an int8 scale near 1e-8, on which the XNNPACK delegate
    aborts the process. The runner (and the export, through the same check) must raise naming the tensor."""
    from spinenet_lite.errors import SpineNetLiteError
    from spinenet_lite.keras import keras, tf

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    squeeze = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)  # a squeeze-excite with a dead squeeze
    squeeze = keras.layers.Conv2D(1, 1, activation="relu6", name="dead_relu6",
                                  bias_initializer=keras.initializers.Constant(-100.0))(squeeze)
    excite = keras.layers.Conv2D(4, 1, activation="sigmoid")(squeeze)
    outputs = keras.layers.Conv2D(3, 1)(keras.layers.Multiply()([x, excite]))
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, outputs))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: ([rng.random((1, 16, 16, 3), np.float32)] for _ in range(4))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    path = tmp_path / "dead.tflite"
    path.write_bytes(converter.convert())

    scales = {name: scale for _, name, scale in tflite_runtime.requantization_scales(path.read_bytes())}
    assert max(scales.values()) >= tflite_runtime.MAX_REQUANTIZATION_SCALE
    with pytest.raises(SpineNetLiteError, match=r"dead\.tflite: int8 CONV_2D writing '.*dead_relu6.*' has a requant"):
        TFLiteRunner(path)


def test_real_int8_exports_pass_the_range_check(export_kit, folder):
    for kind in ("tflite-int8-raw", "tflite-int8"):
        scales = tflite_runtime.requantization_scales(export_kit.artifact_file(kind, folder).read_bytes())
        assert len(scales) > 100 and max(s for _, _, s in scales) < tflite_runtime.MAX_REQUANTIZATION_SCALE
