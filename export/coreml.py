"""Core ML export (coremltools 9): a pipeline that Apple's Vision framework turns into VNRecognizedObjectObservations.

Three stages, chained with `ct.utils.make_pipeline`:
1. `detector`: the frozen tf_keras model as an ML program (fp16 weights and compute), RGB image input of
   S x S pixels, 0..255 (scale 1, bias 0: the model normalises inside), raw `box_encodings` [1, N, 4] and
   `class_logits` [1, N, C].
2. `decoder`: an ML program written with the MIL builder (fp32) that decodes the encodings against the anchors
   into `raw_coordinates` [N, 4] (x, y, w, h, centre form, normalised) and sigmoid `raw_confidence` [N, C].
3. `nms`: Core ML's NonMaximumSuppression model with the class labels, producing `coordinates` and `confidence`.

Prediction runs only on macOS; on Linux `describe()` reads the saved package's spec for the tests.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spinenet_lite.errors import SpineNetLiteError

IMAGE_INPUT = "image"
MIN_TARGET = "iOS15"  # ML programs need iOS 15 / macOS 12


def _coremltools():
    try:
        import coremltools as ct
    except ImportError:
        raise SpineNetLiteError("coreml: coremltools is not installed; run: pip install 'spinenet-lite[export]'") from None
    return ct


def detector_stage(model):
    """The tf_keras detector as an fp16 ML program with an RGB image input and raw outputs."""
    from spinenet_lite.export.tflite import frozen_raw_function

    ct = _coremltools()
    size = int(model.input_shape[1])
    frozen = frozen_raw_function(model)
    image = ct.ImageType(name="images", shape=(1, size, size, 3), color_layout=ct.colorlayout.RGB, scale=1.0)
    mlmodel = ct.convert([frozen], source="tensorflow", inputs=[image], convert_to="mlprogram",
                         compute_precision=ct.precision.FLOAT16,
                         minimum_deployment_target=getattr(ct.target, MIN_TARGET))
    spec = mlmodel.get_spec()
    ct.utils.rename_feature(spec, "images", IMAGE_INPUT)
    for output, name in zip(list(spec.description.output), ("box_encodings", "class_logits")):
        ct.utils.rename_feature(spec, output.name, name)
    return ct.models.MLModel(spec, weights_dir=mlmodel.weights_dir)


def decoder_stage(anchors: np.ndarray, num_classes: int):
    """(box_encodings, class_logits) -> (raw_coordinates [N, 4] xywh centre, raw_confidence [N, C]) in fp32.

    The box coding is ARCHITECTURE.md's: ty, tx relative to the anchor centre in anchor units, th, tw in log
    space, scale factors 1; anchors are normalised (yc, xc, h, w).
    """
    ct = _coremltools()
    from coremltools.converters.mil import Builder as mb

    anchors = np.asarray(anchors, np.float32)
    n = int(anchors.shape[0])
    centre_xy = anchors[:, [1, 0]]  # (xc, yc)
    size_wh = anchors[:, [3, 2]]  # (w, h)

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, n, 4)), mb.TensorSpec(shape=(1, n, num_classes))],
                opset_version=getattr(ct.target, MIN_TARGET))
    def decode(box_encodings, class_logits):
        enc = mb.reshape(x=box_encodings, shape=[n, 4])
        t_xy = mb.gather(x=enc, indices=np.array([1, 0], np.int32), axis=1)  # (tx, ty)
        t_wh = mb.gather(x=enc, indices=np.array([3, 2], np.int32), axis=1)  # (tw, th)
        xy = mb.add(x=mb.mul(x=t_xy, y=size_wh), y=centre_xy)
        wh = mb.mul(x=mb.exp(x=t_wh), y=size_wh)
        coordinates = mb.concat(values=[xy, wh], axis=1, name="raw_coordinates")
        confidence = mb.sigmoid(x=mb.reshape(x=class_logits, shape=[n, num_classes]), name="raw_confidence")
        return confidence, coordinates

    return ct.convert(decode, convert_to="mlprogram", compute_precision=ct.precision.FLOAT32,
                      minimum_deployment_target=getattr(ct.target, MIN_TARGET))


def nms_stage(decoder, class_names: tuple[str, ...], iou_threshold: float, score_threshold: float):
    """Core ML's NonMaximumSuppression model over the decoder's outputs, labelled with the class names."""
    ct = _coremltools()
    spec = ct.proto.Model_pb2.Model()
    spec.specificationVersion = decoder.get_spec().specificationVersion
    for feature in decoder.get_spec().description.output:
        spec.description.input.add().CopyFrom(feature)
    for feature, name in zip(decoder.get_spec().description.output, ("confidence", "coordinates")):
        out = spec.description.output.add()
        out.CopyFrom(feature)
        out.name = name
        array = out.type.multiArrayType
        last = array.shape[1]
        del array.shape[:]
        ranges = array.shapeRange.sizeRanges
        ranges.add().lowerBound = 0
        ranges[0].upperBound = -1  # any number of detections
        ranges.add().lowerBound = last
        ranges[1].upperBound = last
    nms = spec.nonMaximumSuppression
    nms.confidenceInputFeatureName = "raw_confidence"
    nms.coordinatesInputFeatureName = "raw_coordinates"
    nms.confidenceOutputFeatureName = "confidence"
    nms.coordinatesOutputFeatureName = "coordinates"
    nms.iouThreshold = float(iou_threshold)
    nms.confidenceThreshold = float(score_threshold)
    nms.pickTop.perClass = True  # per-class, like the evaluator and TFLite_Detection_PostProcess (regular NMS)
    nms.stringClassLabels.vector.extend(list(class_names))
    return ct.models.MLModel(spec)


def convert(model, anchors: np.ndarray, class_names: tuple[str, ...], iou_threshold: float = 0.5,
            score_threshold: float = 0.05, model_name: str = "spinenet-lite"):
    """The full pipeline (detector -> decoder -> NMS) as an `MLModel`, ready to `.save("x.mlpackage")`."""
    ct = _coremltools()
    num_classes = int(model.output_shape["class_logits"][-1])
    if len(class_names) != num_classes:
        raise SpineNetLiteError(f"coreml: {len(class_names)} class names for a {num_classes}-class model; "
                                "use the run's classes.txt")
    try:
        detector = detector_stage(model)
        decoder = decoder_stage(anchors, num_classes)
        pipeline = ct.utils.make_pipeline(detector, decoder,
                                          nms_stage(decoder, class_names, iou_threshold, score_threshold))
    except SpineNetLiteError:
        raise
    except Exception as err:  # coremltools raises assorted types
        raise SpineNetLiteError(f"coreml: conversion failed ({str(err).splitlines()[0][:200]})") from err
    spec = pipeline.get_spec()
    meta = spec.description.metadata
    meta.shortDescription = f"{model_name} object detector (spinenet-lite); outputs for Vision's VNCoreMLRequest"
    meta.userDefined["classes"] = ",".join(class_names)
    meta.userDefined["iou_threshold"] = str(iou_threshold)
    meta.userDefined["confidence_threshold"] = str(score_threshold)
    spec.description.input[0].shortDescription = "RGB image, letterboxed to the model's input size"
    spec.description.output[0].shortDescription = "per-class confidence of each kept box"
    spec.description.output[1].shortDescription = "boxes (x, y, width, height), centre form, normalised"
    return ct.models.MLModel(spec, weights_dir=pipeline.weights_dir)


def write(target, path: Path, model, anchors: np.ndarray, class_names, recipe, calibration=None) -> None:
    """One artifact of this format at `path` (the signature every format module shares; see formats.py)."""
    cfg = recipe.export
    save(convert(model, anchors, tuple(class_names), cfg.iou_threshold, cfg.score_threshold, recipe.model.name),
         path)


def save(mlmodel, path: str | os.PathLike) -> Path:
    """Write the pipeline as an .mlpackage folder."""
    path = Path(path)
    mlmodel.save(str(path))
    return path


def describe(path: str | os.PathLike) -> dict:
    """What a saved package holds, read from its spec (no prediction: that needs macOS).

    Returns dict(stages=[model types], inputs={name: (kind, shape)}, outputs={...}, labels=[...], spec_version).
    """
    ct = _coremltools()
    path = Path(path)
    if not path.exists():
        raise SpineNetLiteError(f"{path}: no such Core ML package; export one with `spinenet-lite export RUN --coreml`")
    spec = ct.utils.load_spec(str(path))

    def feature(f):
        kind = f.type.WhichOneof("Type")
        if kind == "imageType":
            t = f.type.imageType
            return kind, (int(t.height), int(t.width), ct.proto.FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(t.colorSpace))
        array = f.type.multiArrayType
        shape = tuple(int(s) for s in array.shape) or tuple(
            (int(r.lowerBound), int(r.upperBound)) for r in array.shapeRange.sizeRanges)
        return kind, shape

    stages = [m.WhichOneof("Type") for m in spec.pipeline.models] if spec.WhichOneof("Type") == "pipeline" else []
    nms = next((m.nonMaximumSuppression for m in spec.pipeline.models
                if m.WhichOneof("Type") == "nonMaximumSuppression"), None)
    return {
        "stages": stages,
        "inputs": {f.name: feature(f) for f in spec.description.input},
        "outputs": {f.name: feature(f) for f in spec.description.output},
        "labels": list(nms.stringClassLabels.vector) if nms is not None else [],
        "nms": nms,
        "spec_version": int(spec.specificationVersion),
        "stage_io": [([f.name for f in m.description.input], [f.name for f in m.description.output])
                     for m in spec.pipeline.models],
    }
