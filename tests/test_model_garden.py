"""Importing a Model Garden RetinaNet checkpoint: exact outputs on real images (fixture made by the Model Garden
itself, tests/fixtures/model_garden/meta.json says how), the run folder it writes, `train --init` from it."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from spinenet_lite.config import load_recipe
from spinenet_lite.errors import SpineNetLiteError

FIXTURE = Path(__file__).parent / "fixtures" / "model_garden"
ROOT = Path(__file__).resolve().parents[1]
TINY = ["model.input_size=64", "data.synthetic_images=40", "train.batch_size=4", "train.warmup_steps=2",
        "train.stochastic_depth=0.0", "data.scale_min=1.0", "data.scale_max=1.0", "train.freeze_bn_epochs=0",
        "train.epochs=1", "train.eval_every=10", "train.learning_rate=0.01"]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    from spinenet_lite.model_garden import import_checkpoint

    return import_checkpoint(FIXTURE / "ckpt-1", "spinenet49xxs", out=tmp_path_factory.mktemp("mg") / "run")


def test_imported_49xs_matches_the_model_gardens_outputs_on_real_images(imported):
    """Raw per-level class and box outputs of the imported run equal the Model Garden's to 1e-4 (float32)."""
    from spinenet_lite.preprocess import letterbox, load_image
    from spinenet_lite.runs import load_trained

    meta = json.loads((FIXTURE / "meta.json").read_text())
    ref = np.load(FIXTURE / "outputs.npz")
    trained = load_trained(imported)
    size = trained.recipe.model.input_size
    assert size == meta["input_size"] == 256 and len(trained.class_names) == 91
    images = np.stack([np.asarray(letterbox(load_image(ROOT / p), size)[0]) for p in meta["images"]])
    out = {k: v.numpy() for k, v in trained.model(images, training=False).items()}
    start, worst = 0, 0.0
    for level in range(3, 8):
        side = math.ceil(size / 2**level)
        n = side * side * 9
        box = out["box_encodings"][:, start:start + n].reshape(2, side, side, 36)
        cls = out["class_logits"][:, start:start + n].reshape(2, side, side, 9, 91)[..., meta["class_subset"]]
        start += n
        worst = max(worst, np.abs(box - ref[f"box_{level}"]).max(), np.abs(cls - ref[f"class_{level}"]).max())
    assert start == out["box_encodings"].shape[1]
    assert worst <= 1e-4
    assert max(np.abs(ref[k]).max() for k in ref.files) > 0.5  # the fixture's outputs are not trivially small


def test_imported_run_folder_names_coco_classes_and_the_model_garden_options(imported):
    recipe = load_recipe(str(imported / "recipe.yaml"))
    assert recipe.model.overrides == {"se_activation": "relu", "se_gate": "hard_sigmoid",
                                      "normalization": "imagenet", "channel_rounding": "truncate"}
    names = (imported / "classes.txt").read_text().splitlines()
    assert names[1] == "person" and names[90] == "toothbrush" and len(set(names)) == 91


def test_import_into_the_wrong_model_is_one_clear_error(tmp_path):
    from spinenet_lite.model_garden import import_checkpoint

    with pytest.raises(SpineNetLiteError, match="another model"):
        import_checkpoint(FIXTURE / "ckpt-1", "spinenet49", out=tmp_path / "run")
    with pytest.raises(SpineNetLiteError, match="no such checkpoint"):
        import_checkpoint(tmp_path / "ckpt-9", "spinenet49xxs", out=tmp_path / "run")
    with pytest.raises(SpineNetLiteError, match="publishes no such model"):
        import_checkpoint(FIXTURE / "ckpt-1", "spinenet49xxx", out=tmp_path / "run")


def test_hard_sigmoid_gate_and_imagenet_normalisation_compute_the_model_gardens_formulas():
    from spinenet_lite.keras import keras
    from spinenet_lite.models.detector import image_input
    from spinenet_lite.models.layers import se_gate

    x = keras.Input((4,))
    gate = keras.Model(x, se_gate(x, "hard_sigmoid", "t"))
    v = np.array([[-5.0, -1.0, 0.5, 4.0]], np.float32)
    np.testing.assert_allclose(gate(v).numpy(), np.clip(v + 3, 0, 6) * 0.16667, atol=1e-7)
    inputs, norm = image_input(32, "imagenet")
    pixels = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    mean, std = np.array([0.485, 0.456, 0.406]) * 255, np.array([0.229, 0.224, 0.225]) * 255
    np.testing.assert_allclose(keras.Model(inputs, norm)(pixels).numpy(), (pixels - mean) / std, atol=1e-5)


def test_train_init_from_an_imported_run_keeps_its_model_and_renews_the_class_predictor(imported, tmp_path):
    """`--init` takes the imported model and weights; 6 synthetic classes != 91 COCO ids, so the class predictor
    starts fresh; `init_backbone_only` leaves the head fresh too."""
    from spinenet_lite.runs import load_trained
    from spinenet_lite.train.init import init_recipe, load_init_weights
    from spinenet_lite.runs import build_model

    recipe = init_recipe(load_recipe("quickstart", TINY), imported)
    assert recipe.model.name == "spinenet49xxs" and recipe.model.input_size == 64
    assert recipe.model.overrides["se_gate"] == "hard_sigmoid"
    source = {layer.name: layer for layer in load_trained(imported).model.layers}
    model = build_model(recipe, num_classes=6)
    report = load_init_weights(model, tuple("abcdef"), imported)
    assert report.class_predictor.startswith("re-initialised") and report.fresh == ("class_predict",)
    for name in ("stem_conv", "block16_project_bn", "class_tower_conv3", "box_predict"):
        for a, b in zip(model.get_layer(name).get_weights(), source[name].get_weights()):
            np.testing.assert_array_equal(a, b)
    fresh = build_model(recipe, num_classes=6)
    report = load_init_weights(fresh, tuple("abcdef"), imported, backbone_only=True)
    assert "box_predict" in report.fresh and "class_tower_conv0" in report.fresh
    assert not np.array_equal(fresh.get_layer("box_predict").get_weights()[0], source["box_predict"].get_weights()[0])


@pytest.mark.slow
def test_cli_import_then_train_init_runs(imported, tmp_path):
    """The two README commands: import, then fine-tune with --init (a few steps on the embedded data)."""
    from spinenet_lite.cli import main
    from spinenet_lite.runs import load_trained

    run = tmp_path / "imported"
    assert main(["import", str(FIXTURE / "ckpt-1"), "--from", "model-garden", "--model", "spinenet49xxs",
                 "--out", str(run)]) == 0
    assert main(["import", str(FIXTURE / "ckpt-1"), "--model", "spinenet49xxs", "--out", str(run)]) == 1
    from spinenet_lite.train.trainer import train

    recipe = load_recipe("quickstart", TINY + [f"train.init={run}"])
    result = train(recipe, tmp_path / "tuned", progress=False, max_steps=2)
    assert result.steps_done == 2
    tuned = load_trained(tmp_path / "tuned")
    assert tuned.recipe.model.overrides["normalization"] == "imagenet" and len(tuned.class_names) == 6


def test_imported_model_exports_to_int8_and_runs_under_xnnpack(export_kit, cosine, tmp_path):
    """The fixture's 1- and 2-channel squeezes are 0 on every BCCD image (all pre-activations negative), which gave
    their convs a requantization scale in the thousands that XNNPACK refuses; the exporter gives each a constant
    channel, compensated in the expand conv: same outputs on the calibration images, weights restored after,
    every int8 scale in range, and the int8 model runs in ai-edge-litert (XNNPACK) close to the float one."""
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.export.dead_squeeze import dead_squeezes, dead_squeezes_revived
    from spinenet_lite.export.tflite import convert
    from spinenet_lite.model_garden import load_model_garden
    from spinenet_lite.runtimes.tflite import MAX_REQUANTIZATION_SCALE, TFLiteRunner, requantization_scales

    size = 128
    model, _, _, _ = load_model_garden(FIXTURE / "ckpt-1", "spinenet49xxs", size)
    images = export_kit.images(8, size)

    def calibration():
        return (image[None] for image in images)

    assert [relu.name for _, relu, _ in dead_squeezes(model, calibration)] == ["stem_block1_se_relu", "block2_se_relu"]
    before = {k: v.numpy() for k, v in model(images, training=False).items()}
    weights = [w.copy() for w in model.get_weights()]
    with dead_squeezes_revived(model, calibration) as revived:
        during = {k: v.numpy() for k, v in model(images, training=False).items()}
        assert model.get_layer("block2_se_reduce").get_weights()[1][0] == 1.0
    assert len(revived) == 2
    for key in before:
        np.testing.assert_allclose(during[key], before[key], atol=1e-5)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)

    flatbuffer = convert(model, generate_anchors(size), "int8", raw=True, calibration=calibration)
    assert max(scale for _, _, scale in requantization_scales(flatbuffer)) < MAX_REQUANTIZATION_SCALE
    (tmp_path / "int8.tflite").write_bytes(flatbuffer)
    runner = TFLiteRunner(tmp_path / "int8.tflite")
    for image in images[:3]:
        got = runner.run(image)
        want = model(image[None], training=False)
        for key in ("box_encodings", "class_logits"):
            assert cosine(got[key], want[key].numpy()) >= 0.99, key
