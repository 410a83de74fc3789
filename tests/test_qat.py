"""QAT: a real SpineNet-49XXS float run on BCCD (64 px) fine-tuned by `qat` with the project's trainer, then
exported to int8 TFLite; the int8 model must agree with the QAT Keras model on real images (the QAT export gate).
The QAT run is the quickstart fallback's (`bccd_qat_fallback`, shared with test_quickstart_fallback.py)."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spinenet_lite.errors import SpineNetLiteError

S = 64


@pytest.fixture(scope="module")
def float_run(bccd_qat_fallback):
    """The float run the QAT run fine-tuned (a copy of the shared BCCD float run; read-only)."""
    return bccd_qat_fallback[0].run_dir


@pytest.fixture(scope="module")
def qat_run(bccd_qat_fallback):
    """`qat()`'s result: one epoch (2 steps) on the float run's 16-image test split."""
    return bccd_qat_fallback[0].qat


@pytest.fixture(scope="module")
def qat_loaded(qat_run):
    """The QAT run as `export` loads it (built, quantized and read once for the module's tests)."""
    from spinenet_lite.runs import load_qat

    return load_qat(qat_run.run_dir)


@pytest.fixture(scope="module")
def float_model(float_run):
    """The float run's model, loaded once (read-only for tests)."""
    from spinenet_lite.runs import load_trained

    return load_trained(float_run).model


@pytest.fixture(scope="module")
def calibrated(qat_loaded):
    """The QAT model and the batches `qat` calibrated its ranges on before training: the first 16 images of its
    training split in two batches of 8. Its two QAT steps after that move a range by tfmot's EMA (decay 0.999),
    0.2% of the way to each step's min / max."""
    from spinenet_lite.data.calibration import calibration_batches

    batches = calibration_batches(qat_loaded.recipe, 160)
    assert [len(batch) for batch in batches] == [8, 8]
    return qat_loaded.model, batches


def val_images(bccd: Path, n: int) -> np.ndarray:
    from spinenet_lite.preprocess import letterbox, load_image

    names = (bccd / "ImageSets/Main/test.txt").read_text().split()[:n]
    return np.stack([np.asarray(letterbox(load_image(bccd / "JPEGImages" / f"{name}.jpg"), S)[0], np.float32)
                     for name in names])


def test_qat_writes_a_run_folder_export_reads(float_run, qat_run, qat_loaded, float_model, bccd_root):
    from spinenet_lite.config import load_recipe
    from spinenet_lite.runs import is_qat_run
    from spinenet_lite.quant_graph import input_range_variables
    from spinenet_lite.train.history import read_history

    out = qat_run.run_dir
    assert out == float_run / "qat" and is_qat_run(out)
    for name in ("qat.weights.h5", "float.weights.h5", "recipe.yaml", "classes.txt", "results.csv"):
        assert (out / name).is_file(), name
    recipe = load_recipe(str(out / "recipe.yaml"))
    assert recipe.train.learning_rate == recipe.train.qat_learning_rate and recipe.train.epochs == 1
    assert qat_run.train.steps_done == 2 and len(read_history(out / "results.csv")) == 1
    loaded = qat_loaded
    for layer in float_model.layers:  # the parity gate's reference is the float run, not a fresh model
        if not layer.weights:  # weightless layers (stochastic depth) exist only in the training build
            continue
        for a, b in zip(loaded.float_model.get_layer(layer.name).get_weights(), layer.get_weights()):
            np.testing.assert_array_equal(a, b)
    low, high = input_range_variables(loaded.model)
    assert (float(low.numpy()), float(high.numpy())) == (0.0, 255.0)  # the input quantizer keeps the pixel range
    # the QAT model qat() hands on (the quickstart exports it without reloading) is the one the folder holds
    held = qat_run.trained
    assert held.quantized and held.path == out / "qat.weights.h5" and held.recipe == loaded.recipe
    assert held.class_names == loaded.class_names
    image = val_images(bccd_root, 1)
    for key, value in held.model(image, training=False).items():
        np.testing.assert_allclose(value.numpy(), loaded.model(image, training=False)[key].numpy(), atol=1e-5)


def test_qat_changed_the_weights_and_calibrated_ranges(qat_loaded, float_model):
    model = qat_loaded.model
    pointwise = float_model.get_layer("class_predict").get_weights()[1]
    qat_kernel = next(v for v in model.weights if "class_predict/" in v.name and v.name.endswith("kernel:0"))
    assert qat_kernel.shape == pointwise.shape and not np.allclose(qat_kernel.numpy(), pointwise)  # moved
    maxima = [float(v.numpy()) for v in model.weights
              if v.name.endswith("max:0") and "kernel" not in v.name and "quantize_layer" not in v.name]
    assert maxima and sum(m != 6.0 for m in maxima) > 0.9 * len(maxima)  # ranges left tfmot's [-6, 6] start


def test_calibration_sets_ranges_from_the_images_not_tfmots_start(calibrated):
    """tfmot's EMA (decay 0.999) would leave every range within ~0.1 of its [-6, 6] start after two batches (and
    two QAT steps); calibration must move them to the observed activations."""
    model, _ = calibrated
    maxima = [float(v.numpy()) for v in model.weights
              if v.name.endswith("max:0") and "kernel" not in v.name and "quantize_layer" not in v.name]
    assert len(maxima) > 100 and sum(abs(m - 6.0) > 0.2 for m in maxima) > 0.9 * len(maxima)


def test_shared_head_convs_get_one_output_range_per_level(float_model, calibrated):
    """The head's convs are shared by P3-P7; TFLite gives each call's output its own int8 range, so the QAT
    graph must too (one shared quantizer clips the wider levels: BCCD QAT at lr 0 loses 3.7 AP with one range,
    0.7 with one per level). The predictors are the exception: TFLite quantizes them at their concatenation's
    range, one for all levels, so the QAT graph has that one range and no per-level ones (which export as a
    requantize op per level)."""
    from spinenet_lite.keras import keras

    model, batches = calibrated

    def ranges(layer_name):
        return [float(v.numpy()) for v in model.get_layer(layer_name).weights
                if "kernel" not in v.name and v.name.endswith("max:0")]

    # the depthwise half of the first box tower conv (split from the separable conv): one range per level
    shared = float_model.get_layer("box_tower_conv0")
    levels = len(shared._inbound_nodes)
    assert levels == 5
    assert not ranges("quant_box_tower_conv0_dw")  # the shared layer quantizes only its kernel
    got = [ranges(f"quant_box_tower_conv0_dw_q{i}")[0] for i in range(levels)]
    assert len(set(got)) == levels  # five ranges (one quantizer for all levels would give one value)

    # the predictor: no range of its own, no per-level Identity; the concatenation's range covers every level
    assert not ranges("quant_box_predict")
    assert not any(layer.name.startswith("quant_box_predict_q") for layer in model.layers)
    predictor = float_model.get_layer("box_predict")
    probe = keras.Model(float_model.input, [predictor.get_output_at(i) for i in range(levels)])
    # calibration ends at the mean over its batches of each batch's maximum
    widest = np.mean([max(float(np.max(out)) for out in probe(batch, training=False))
                      for batch in batches])
    np.testing.assert_allclose(ranges("quant_box_encodings")[0], widest, rtol=0.05)


def test_qat_int8_export_agrees_with_qat_keras(qat_loaded, bccd_root, cosine, tmp_path):
    """The QAT export gate: cosine of raw outputs >= 0.99 between the QAT Keras model and its int8 TFLite."""
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.export import tflite
    from spinenet_lite.runtimes.tflite import TFLiteRunner

    model = qat_loaded.model
    path = tmp_path / "qat_int8.tflite"
    path.write_bytes(tflite.convert(model, generate_anchors(S), "int8", raw=True))
    runner = TFLiteRunner(path)
    assert runner.input["dtype"] == np.uint8 and runner.input["quantization"] == (1.0, 0)
    # as lean as the post-training int8 graph: no requantize ops between the layers. Left: the input's QUANTIZE,
    # and the normalisation, which runs in float (DEQUANTIZE, MUL, ADD, QUANTIZE), then the two outputs' DEQUANTIZE
    ops = [op["op_name"] for op in runner.interpreter._get_ops_details()]
    assert ops.count("QUANTIZE") == 2 and ops.count("DEQUANTIZE") == 3
    for image in val_images(bccd_root, 4):
        ref = model(image[None], training=False)
        out = runner.run(image)
        for name in tflite.RAW_OUTPUTS:
            got, want = out[name], ref[name].numpy()
            assert cosine(got, want) >= 0.99, name
            # without the per-output constant (the class prior bias) the agreement must still hold
            assert cosine(got - want.mean(axis=(0, 1)), want - want.mean(axis=(0, 1))) >= 0.95, name


def test_bad_inputs(float_run, qat_run, bccd_recipe, tmp_path):
    from spinenet_lite.qat import qat

    with pytest.raises(SpineNetLiteError, match="QAT folder exists"):
        qat(None, float_run, progress=False)
    recipe = bccd_recipe(S)
    other = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, name="spinenet49xs"))
    with pytest.raises(SpineNetLiteError, match="not the one"):
        qat(other, float_run, out=tmp_path / "q", progress=False)
    with pytest.raises(SpineNetLiteError, match="no such run folder"):
        qat(None, tmp_path / "missing", progress=False)


def test_cli_missing_checkpoint_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "spinenet_lite", "qat", "--from", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and "no such run folder" in proc.stderr

