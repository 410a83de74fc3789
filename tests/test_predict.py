"""predict: a real (untrained) SpineNet-49XXS run folder at 64 px on real JPEG/PNG files."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.predict import find_images, load_detector, predict

SIZE = 64


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder as `train` writes it: recipe.yaml, classes.txt, best.weights.h5."""
    from spinenet_lite.config import Recipe, save_recipe
    from spinenet_lite.runs import build_model, save_weights_atomic, write_classes

    run = tmp_path_factory.mktemp("runs") / "tiny"
    recipe = Recipe()
    recipe = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, name="spinenet49xxs",
                                                                   input_size=SIZE))
    save_recipe(recipe, run / "recipe.yaml")
    write_classes(run, ("RBC", "WBC"))
    model = build_model(recipe, num_classes=2)
    # An untrained head scores every anchor at the 0.01 prior; spread the class predictor so scores differ.
    layer = model.get_layer("class_predict")
    rng = np.random.default_rng(1)
    layer.set_weights([w + rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in layer.get_weights()])
    save_weights_atomic(model, run / "best.weights.h5")
    return run


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (90, 140, 3), np.uint8)).save(folder / "wide.jpg")
    Image.fromarray(rng.integers(0, 255, (120, 50, 3), np.uint8)).save(folder / "tall.png")
    return folder


def test_predict_writes_annotated_copies_and_json(run_dir, images, tmp_path):
    out = tmp_path / "preds"
    doc = predict(run_dir, [images], out_dir=out, conf=0.0)
    written = json.loads((out / "detections.json").read_text())
    assert written == json.loads(json.dumps(doc))
    assert written["class_names"] == ["RBC", "WBC"] and written["input_size"] == SIZE
    by_name = {Path(item["file"]).name: item for item in written["images"]}
    assert set(by_name) == {"wide.jpg", "tall.png"}
    for name, item in by_name.items():
        n = len(item["scores"])
        assert 0 < n <= 100  # conf 0 keeps everything the post-processing returns
        assert len(item["boxes"]) == len(item["labels"]) == len(item["classes"]) == n
        boxes = np.array(item["boxes"])
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= item["width"] + 0.01).all()
        assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= item["height"] + 0.01).all()
        assert all(c == ("RBC", "WBC")[lab] for c, lab in zip(item["classes"], item["labels"]))
        assert item["scores"] == sorted(item["scores"], reverse=True)
        annotated = Image.open(item["output"])
        original = Image.open(images / name)
        assert annotated.size == original.size and Path(item["output"]).suffix == Path(name).suffix
        assert np.abs(np.asarray(annotated.convert("RGB"), np.int16)
                      - np.asarray(original.convert("RGB"), np.int16)).max() > 0  # something was drawn


def test_predict_matches_the_detect_function_and_conf_filters(run_dir, images, tmp_path):
    from spinenet_lite.postprocess import to_original_image
    from spinenet_lite.preprocess import letterbox, load_image

    detector = load_detector(run_dir, conf=0.0)  # loaded once, reused below
    assert detector.class_names == ("RBC", "WBC") and detector.input_size == SIZE
    doc = predict(detector, [images / "wide.jpg"], out_dir=tmp_path / "a", conf=0.0, draw=False)
    item = doc["images"][0]
    assert "output" not in item and not (tmp_path / "a" / "wide.jpg").exists()
    image = load_image(images / "wide.jpg")
    boxed, scale = letterbox(image, SIZE)
    raw = detector.detect_fn(np.asarray(boxed, np.float32)[None])[0]
    expect = to_original_image(np.asarray(raw["boxes"]), SIZE, float(scale), image.shape[:2])
    np.testing.assert_allclose(item["boxes"], expect, atol=0.01)
    np.testing.assert_allclose(item["scores"], raw["scores"], atol=1e-4)
    distinct = sorted(set(item["scores"]))
    assert len(distinct) > 1, item["scores"]
    cut = (distinct[0] + distinct[-1]) / 2
    kept = predict(detector, [images / "wide.jpg"], out_dir=tmp_path / "b", conf=cut, draw=False)
    scores = kept["images"][0]["scores"]
    assert scores == [s for s in item["scores"] if s >= cut] and 0 < len(scores) < len(item["scores"])


def test_bad_inputs_are_clear_errors(run_dir, images, tmp_path):
    with pytest.raises(SpineNetLiteError, match="nothing.jpg: no such image"):
        find_images([tmp_path / "nothing.jpg"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpineNetLiteError, match="no images"):
        find_images([tmp_path / "empty"])
    with pytest.raises(SpineNetLiteError, match="no such run folder"):
        predict(tmp_path / "no_run", [images], out_dir=tmp_path / "x")
    with pytest.raises(SpineNetLiteError, match="missing.tflite: no such .tflite"):
        predict(tmp_path / "missing.tflite", [images], out_dir=tmp_path / "x")
    assert find_images([images / "wide.jpg", images]) == [images / "wide.jpg", images / "tall.png"]
