"""Shared by the export tests: the real spinenet49xxs at 64 px, BCCD images, and each artifact converted once.

`artifact(kind)` converts on first use and caches the bytes for the whole pytest session, so the TFLite, ONNX,
parity and CLI test modules share one conversion per format (the converter is the slow part on a shared
2-core machine). The model is the registry's real SpineNet-49XXS; its untrained class predictor scores every
anchor at the 0.01 prior and its features are near zero (batch norm at its initial statistics), so batch norm is
re-estimated on real images and the predictors spread (seeded): outputs then depend on the image.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from spinenet_lite.anchors import generate_anchors
from spinenet_lite.preprocess import letterbox, load_image

S = 64
CLASSES = ("RBC", "WBC", "Platelets")
IMAGES = sorted((Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bccd" / "JPEGImages").glob("*.jpg"))
MODEL_NAME = "spinenet49xxs"
SCORE_THRESHOLD = 0.3
MAX_DETECTIONS = 10
VARIANCE_FLOOR = 0.01  # caps a BN gain at 10x after re-estimation on 8 images


def spread_predictors(model, seed: int = 1, scale: float = 0.5) -> None:
    """Give an untrained detector distinct class scores (the focal-loss prior makes them all 0.01) and box
    encodings of a trained model's scale (the untrained box predictor outputs a few hundredths)."""
    rng = np.random.default_rng(seed)
    for name in ("class_predict", "box_predict"):
        layer = model.get_layer(name)
        *kernels, bias = layer.get_weights()
        kernels = [w + rng.normal(0, scale, w.shape).astype(w.dtype) for w in kernels]
        bias = rng.normal(-1.0 if name == "class_predict" else 0.0, 1.0, bias.shape).astype(bias.dtype)
        layer.set_weights([*kernels, bias])


def estimate_batch_norm(model, images: np.ndarray) -> None:
    """Set every BN layer's moving statistics to those of `images` (one training-mode pass, momentum 0)."""
    from spinenet_lite.keras import keras

    layers = [layer for layer in model.submodules if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(images, training=True)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
        # a channel that barely varies on 8 images would be amplified up to 1/sqrt(epsilon): cap its gain
        layer.moving_variance.assign(np.maximum(layer.moving_variance.numpy(), VARIANCE_FLOOR))


@functools.cache
def real_model():
    """The registry's real spinenet49xxs detector, 3 classes, 64 px, with a spread class predictor."""
    from spinenet_lite.keras import keras
    from spinenet_lite.models.registry import create_model

    keras.utils.set_random_seed(1)
    model = create_model(MODEL_NAME, num_classes=len(CLASSES), input_size=S)
    estimate_batch_norm(model, real_images(8))
    spread_predictors(model)
    return model


def real_images(n: int, size: int = S) -> np.ndarray:
    """The first `n` BCCD images, letterboxed to `size`, float32 0..255."""
    return np.stack([np.asarray(letterbox(load_image(p), size)[0], np.float32) for p in IMAGES[:n]])


def calibration():
    for image in real_images(8):
        yield image[None]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@functools.cache
def artifact(kind: str) -> bytes:
    """The bytes of one export of `real_model()`, converted once per test run.

    kinds: tflite-{fp32,fp16,int8}-raw, tflite-{fp32,int8} (detection op; int8 carries metadata), onnx-fp32.
    """
    from spinenet_lite.export import metadata, onnx, tflite

    model, anchors = real_model(), generate_anchors(S)
    options = tflite.PostProcessOptions(max_detections=MAX_DETECTIONS, score_threshold=SCORE_THRESHOLD)
    parts = kind.split("-")
    if parts[0] == "onnx":
        return onnx.convert(model, anchors, score_threshold=SCORE_THRESHOLD, max_detections=MAX_DETECTIONS)
    precision, raw = parts[1], parts[-1] == "raw"
    data = tflite.convert(model, anchors, precision, raw=raw, options=options,
                          calibration=calibration if precision == "int8" else None)
    if precision == "int8" and not raw:
        data = metadata.attach_metadata(data, metadata.DetectorMetadata(MODEL_NAME, CLASSES, S))
    return data


def artifact_file(kind: str, folder: Path) -> Path:
    """`artifact(kind)` written to a file in `folder`."""
    suffix = ".onnx" if kind.startswith("onnx") else ".tflite"
    path = Path(folder) / f"{kind}{suffix}"
    path.write_bytes(artifact(kind))
    return path


def test_fixture_model_is_the_registry_model():
    """The export tests run the real SpineNet-49XXS, not a stand-in, and its scores are spread."""
    from spinenet_lite.anchors import num_anchors

    model = real_model()
    assert model.name == MODEL_NAME
    assert model.output_shape["box_encodings"][1] == num_anchors(S)
    scores = 1 / (1 + np.exp(-model(real_images(1), training=False)["class_logits"].numpy()))
    assert scores.max() > SCORE_THRESHOLD and scores.std() > 0.05
    logits = model(real_images(2), training=False)["class_logits"].numpy()
    assert np.abs(logits[0] - logits[1]).mean() > 0.1  # the outputs depend on the image
