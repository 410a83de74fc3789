"""The benchmark harness: timing against a known sleep, peaks, peers, and a tiny end-to-end run."""
import time

import numpy as np
import pytest

from spinenet_lite.benchmarks import timing
from spinenet_lite.errors import SpineNetLiteError


def test_timing_matches_a_known_sleep():
    result = timing.time_fn(lambda: time.sleep(0.02), runs=5, warmup=1)
    assert 19.5 <= result.median_ms <= 60.0  # sleep never returns early; a shared CPU may add a little
    assert result.min_ms <= result.median_ms <= result.p90_ms
    assert result.throughput == pytest.approx(1000.0 / result.median_ms)


def test_timing_counts_warmup_and_runs():
    calls, ticks = [], []
    timing.time_fn(lambda: calls.append(1), runs=7, warmup=3, progress=ticks.append)
    assert len(calls) == 10 and len(ticks) == 7


def test_interleaved_timing_alternates_and_matches_known_sleeps():
    calls = []
    fns = [lambda: (calls.append("a"), time.sleep(0.01)), lambda: (calls.append("b"), time.sleep(0.03))]
    ticks = []
    fast, slow = timing.time_interleaved(fns, runs=4, warmup=1, progress=ticks.append)
    assert calls[:2] == ["a", "b"] and calls[2:6] == ["a", "a", "b", "b"]  # warm-up, then rounds
    assert len(calls) == 2 * (1 + 2 * 4) and len(ticks) == 8  # per round: one untimed + one timed call each
    assert 9.5 <= fast.median_ms <= 40.0 and 29.5 <= slow.median_ms <= 80.0
    assert fast.runs == slow.runs == 4


@pytest.mark.parametrize("runs, warmup", [(0, 1), (3, -1)])
def test_timing_rejects_bad_counts(runs, warmup):
    with pytest.raises(SpineNetLiteError):
        timing.time_fn(lambda: None, runs=runs, warmup=warmup)


def test_parse_formats_suggests():
    from spinenet_lite.benchmarks.runtimes import parse_formats

    assert parse_formats("keras, tflite-int8") == ("keras", "tflite-int8")
    with pytest.raises(SpineNetLiteError, match='did you mean "tflite-int8"'):
        parse_formats("tflite-int9")


@pytest.mark.parametrize("runtime", ["tflite", "onnx"])
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_peak_matmul_runs_and_is_plausible(runtime, precision):
    from spinenet_lite.benchmarks.peak import matmul_macs, measure_peak

    peak = measure_peak(runtime, precision, threads=1, runs=3, warmup=1, m=64, k=256, n=256)
    assert peak.median_ms > 0
    assert peak.macs_per_s == pytest.approx(matmul_macs(64, 256, 256) / (peak.median_ms / 1000))
    assert 1e7 < peak.macs_per_s < 1e13  # between a very slow core and far beyond any CPU


def test_peak_int8_matmul_is_integer():
    from ai_edge_litert.interpreter import Interpreter

    from spinenet_lite.benchmarks.peak import tflite_matmul

    interpreter = Interpreter(model_content=tflite_matmul("int8", 8, 32, 32))
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "FULLY_CONNECTED" in ops
    assert interpreter.get_input_details()[0]["dtype"] == np.int8


def test_peer_shapes_follow_the_contract():
    from spinenet_lite.benchmarks.peers import ANCHORS_PER_LOCATION, create_peer

    model = create_peer("mobilenetv3-small-ssdlite", num_classes=3, input_size=128)
    sizes = [8, 4, 2, 1, 1, 1]  # stride 16, 32, then four stride-2 extra layers ('same' padding)
    n = sum(s * s for s in sizes) * ANCHORS_PER_LOCATION
    assert model.output_shape["box_encodings"] == (None, n, 4)
    assert model.output_shape["class_logits"] == (None, n, 3)
    with pytest.raises(SpineNetLiteError, match="did you mean"):
        create_peer("mobilenetv3-smal-ssdlite")


def test_model_garden_absent_says_how_to_build(tmp_path):
    from spinenet_lite.benchmarks import model_garden

    found, message = model_garden.candidates(tmp_path)
    assert found == [] and message == model_garden.NOT_BUILT


def test_device_commands_name_every_file_and_thread():
    from pathlib import Path

    from spinenet_lite.benchmarks.device import device_commands

    text = device_commands([Path("a_tflite-int8.tflite")], (1, 4), runs=20, warmup=2)
    assert "adb push a_tflite-int8.tflite" in text
    assert "--num_threads=1" in text and "--num_threads=4" in text and "--use_xnnpack=true" in text


def _tiny_detector(size=32, classes=2):
    from spinenet_lite.keras import keras

    image = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, strides=4, padding="same", activation="relu")(image)
    n = (size // 4) ** 2
    boxes = keras.layers.Reshape((n * 2, 4))(keras.layers.Conv2D(8, 1)(x))
    logits = keras.layers.Reshape((n * 2, classes))(keras.layers.Conv2D(2 * classes, 1)(x))
    return keras.Model(image, {"box_encodings": boxes, "class_logits": logits})


@pytest.mark.parametrize("fmt", ["onnx", "tflite-int8"])
def test_convert_and_time_a_tiny_model(tmp_path, fmt):
    from spinenet_lite.benchmarks.runtimes import convert, file_format, file_input_size, file_runner
    from spinenet_lite.benchmarks.runtimes import representative_images

    path = convert(_tiny_detector(), fmt, 32, tmp_path, "tiny", representative_images(32, None, 2))
    assert file_format(path) == fmt and file_input_size(path) == 32
    runner = file_runner(fmt, path, threads=1)
    outputs = runner.invoke()
    assert runner.size_bytes == path.stat().st_size
    if fmt == "onnx":
        assert sorted(o.shape for o in outputs) == [(1, 128, 2), (1, 128, 4)]
    assert timing.time_fn(runner.invoke, runs=3, warmup=1).median_ms > 0


def test_peer_ratios_pair_same_input_format_and_threads():
    from spinenet_lite.benchmarks.peers import peer_ratio_markdown, peer_ratios
    from spinenet_lite.benchmarks.report import Row

    def row(model, source, size, fmt, threads, ms):
        return Row(model=model, source=source, input_size=size, format=fmt, threads=threads, median_ms=ms,
                   p90_ms=ms, throughput=1000 / ms, size_mb=1.0, params_m=1.0, macs_b=0.1, ap=None, ap50=None,
                   ap_source="", gmacs_per_s=None, peak_fraction=None, provider="")

    rows = [row("spinenet49xs", "registry", 384, "tflite-int8", 1, 30.0),
            row("mobilenetv3-large-ssdlite", "peer", 384, "tflite-int8", 1, 60.0),
            row("mobilenetv3-large-ssdlite", "peer", 384, "tflite-int8", 2, 35.0),
            row("spinenet49xxs", "registry", 256, "tflite-int8", 1, 10.0)]
    assert peer_ratios(rows) == [("spinenet49xs", "mobilenetv3-large-ssdlite", "tflite-int8", 1, 30.0, 60.0, 0.5)]
    assert "| spinenet49xs | mobilenetv3-large-ssdlite | tflite-int8 | 1 | 30.00 | 60.00 | 0.50 |" in \
        peer_ratio_markdown(rows)
