"""Mixed precision and several steps per call: bfloat16 training lowers the loss and saves float32 weights that
load as a float32 model; bad precision and XLA settings are one clear error."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from spinenet_lite.config import load_recipe
from spinenet_lite.errors import SpineNetLiteError

TINY = ["model.input_size=64", "data.synthetic_images=40", "train.batch_size=4", "train.warmup_steps=2",
        "train.stochastic_depth=0.0", "data.scale_min=1.0", "data.scale_max=1.0", "train.freeze_bn_epochs=0",
        "train.epochs=2", "train.eval_every=10", "export.calibration_images=8", "train.learning_rate=0.04",
        "model.overrides={head_convs: 1}"]  # one head conv: the same layers, a smaller graph to trace and compile


def test_unknown_settings_are_one_clear_error():
    from spinenet_lite.keras import tf
    from spinenet_lite.train.precision import check_precision, resolve_jit

    with pytest.raises(SpineNetLiteError, match=r'train.precision: .*"mixed_bfloat16"'):
        check_precision("mixed_bfloat")
    with pytest.raises(SpineNetLiteError, match="train.jit_compile"):
        resolve_jit("sometimes", tf.distribute.get_strategy())
    cpu_only = not tf.config.list_logical_devices("GPU")
    assert resolve_jit("auto", tf.distribute.get_strategy()) is not cpu_only
    assert resolve_jit(True, tf.distribute.get_strategy()) is True  # YAML `true` arrives as a bool
    assert resolve_jit("False", tf.distribute.get_strategy()) is False


def test_the_policy_applies_to_the_layers_built_inside_only():
    from spinenet_lite.keras import keras
    from spinenet_lite.models.registry import create_model
    from spinenet_lite.train.precision import precision_policy

    with precision_policy("mixed_bfloat16"):
        model = create_model("spinenet49xxs", num_classes=2, input_size=64, head_convs=1)
    assert keras.mixed_precision.global_policy().name == "float32"
    computes = {layer.compute_dtype for layer in model.layers if layer.weights}
    assert computes == {"bfloat16"}
    assert {v.dtype.name for v in model.weights} == {"float32"}
    outputs = model(np.zeros((1, 64, 64, 3), np.float32), training=False)
    assert {t.dtype.name for t in outputs.values()} == {"float32"}


@pytest.mark.slow
def test_bfloat16_training_lowers_the_loss_and_saves_float32_weights(tmp_path, monkeypatch):
    """bfloat16 compute, three steps per call: the loss falls, the saved weights are float32 and the run loads
    as the float32 model evaluation and export use."""
    monkeypatch.setenv("SPINENET_LITE_CACHE", str(tmp_path / "cache"))
    from spinenet_lite.runs import load_trained
    from spinenet_lite.train.history import read_history
    from spinenet_lite.train.trainer import train

    run = tmp_path / "run"
    settings = ["train.precision=mixed_bfloat16", "train.steps_per_execution=3", "train.jit_compile=false"]
    result = train(load_recipe("quickstart", TINY + settings), run, progress=False)
    assert result.steps_done == 16
    rows = read_history(run / "results.csv")
    assert [r["step"] for r in rows] == [8, 16]
    assert np.isfinite(rows[-1]["loss"]) and rows[-1]["loss"] < 0.98 * rows[0]["loss"], rows
    with h5py.File(run / "last.weights.h5", "r") as f:
        dtypes = set()
        f.visititems(lambda name, obj: dtypes.add(obj.dtype.name) if isinstance(obj, h5py.Dataset) else None)
    assert dtypes == {"float32"}
    model = load_trained(run).model
    assert {layer.compute_dtype for layer in model.layers if layer.weights} == {"float32"}
