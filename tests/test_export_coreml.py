"""Core ML export of the real spinenet49xxs: the saved .mlpackage's spec checked on Linux (prediction needs macOS).

Checked: pipeline of ML program detector -> ML program decoder -> NonMaximumSuppression; the image input (RGB,
S x S); outputs `confidence` [n, C] and `coordinates` [n, 4] with any n, as Vision's VNCoreMLRequest expects;
the class labels; fp16 weights in the detector; the NMS wiring and thresholds.
"""
from __future__ import annotations

import pytest

from spinenet_lite.anchors import generate_anchors, num_anchors
from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.export import coreml


@pytest.fixture(scope="module")
def package(export_kit, tmp_path_factory):
    path = tmp_path_factory.mktemp("coreml") / "model.mlpackage"
    kit = export_kit
    return coreml.save(coreml.convert(kit.model, generate_anchors(kit.size), kit.classes, 0.5, 0.3, kit.model_name), path)


def test_pipeline_structure_and_io(export_kit, package):
    info = coreml.describe(package)
    assert info["stages"] == ["mlProgram", "mlProgram", "nonMaximumSuppression"]
    assert info["inputs"] == {"image": ("imageType", (export_kit.size, export_kit.size, "RGB"))}
    assert info["outputs"] == {"confidence": ("multiArrayType", ((0, -1), (3, 3))),
                               "coordinates": ("multiArrayType", ((0, -1), (4, 4)))}
    assert info["stage_io"] == [(["image"], ["box_encodings", "class_logits"]),
                                (["box_encodings", "class_logits"], ["raw_confidence", "raw_coordinates"]),
                                (["raw_confidence", "raw_coordinates"], ["confidence", "coordinates"])]
    assert info["spec_version"] >= 6  # ML programs: iOS 15 / macOS 12


def test_labels_nms_and_fp16_weights(export_kit, package):
    import coremltools as ct

    info = coreml.describe(package)
    assert info["labels"] == list(export_kit.classes)
    nms = info["nms"]
    assert nms.confidenceInputFeatureName == "raw_confidence" and nms.coordinatesInputFeatureName == "raw_coordinates"
    assert abs(nms.iouThreshold - 0.5) < 1e-9 and abs(nms.confidenceThreshold - 0.3) < 1e-9
    assert nms.pickTop.perClass  # per class, like the evaluator and the TFLite export
    spec = ct.utils.load_spec(str(package))
    detector, decoder = spec.pipeline.models[0], spec.pipeline.models[1]
    image = detector.description.input[0].type.imageType
    assert (image.width, image.height) == (export_kit.size, export_kit.size)
    raw = {f.name: tuple(f.type.multiArrayType.shape) for f in detector.description.output}
    n = num_anchors(export_kit.size)
    assert raw == {"box_encodings": (1, n, 4), "class_logits": (1, n, len(export_kit.classes))}
    dec_out = {f.name: tuple(f.type.multiArrayType.shape) for f in decoder.description.output}
    assert dec_out == {"raw_confidence": (n, 3), "raw_coordinates": (n, 4)}
    program = str(detector.mlProgram)
    assert "fp16" in program.lower() or "FLOAT16" in program  # fp16 weights and compute


def test_wrong_class_count_is_refused(export_kit):
    with pytest.raises(SpineNetLiteError, match="class names"):
        coreml.convert(export_kit.model, generate_anchors(export_kit.size), ("only-one",))


def test_describe_missing_package(tmp_path):
    with pytest.raises(SpineNetLiteError, match="no such Core ML package"):
        coreml.describe(tmp_path / "nope.mlpackage")
