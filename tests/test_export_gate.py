"""The parity gate fails on a deliberately broken artifact; export bad inputs are one line each via the CLI and
leave nothing half-written behind."""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.export import formats, parity, tflite


def zero_weights(flatbuffer: bytes) -> bytes:
    """A TFLite model whose constant buffers (weights, anchors) are all zero: it loads and runs, detects nothing."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(flatbuffer, 0)
    for buffer in model.buffers:
        if buffer.data is not None and len(buffer.data) > 64:
            buffer.data = np.zeros_like(np.asarray(buffer.data))
    return tflite.pack_model(model, schema, flatbuffers)


@pytest.fixture(scope="module")
def val_data(export_kit, bccd_root):
    from spinenet_lite.config import DataConfig
    from spinenet_lite.data import load_dataset

    data = load_dataset(DataConfig(format="voc", root=str(bccd_root), class_names=export_kit.classes), "val")
    return dataclasses.replace(data, samples=data.samples[:4])


def oracle(dataset, size: int, shift: float = 0.0):
    """A detect function returning each image's ground truth (in evaluation order), boxes shifted by `shift`
    of the input size: a reference with AP 100, and a broken artifact whose boxes miss."""
    order = iter(dataset.samples)

    def detect(batch: np.ndarray) -> list:
        results = []
        for _ in range(len(batch)):
            sample = next(order)
            scale = size / max(sample.width, sample.height)
            x0, y0, x1, y1 = (np.asarray(sample.boxes, np.float32) * scale / size).T
            boxes = np.stack([y0, x0 + shift, y1, x1 + shift], axis=1)
            results.append({"boxes": boxes, "scores": np.ones(len(boxes), np.float32),
                            "labels": np.asarray(sample.labels, np.int32)})
        return results
    return detect


def test_gate_fails_on_shifted_boxes(export_kit, val_data):
    size = export_kit.size
    rows = parity.parity_gate(oracle(val_data, size), {"same": oracle(val_data, size),
                                                       "shifted": oracle(val_data, size, 0.05)},
                              val_data, size, max_drop_float=0.2)
    by_label = {r.label: r for r in rows}
    assert by_label["keras-fp32"].ap > 95
    assert by_label["same"].passed and abs(by_label["same"].delta) < 1e-6
    assert not by_label["shifted"].passed and by_label["shifted"].delta < -0.2
    with pytest.raises(SpineNetLiteError, match="shifted"):
        parity.check(rows)
    assert "FAIL" in parity.format_table(rows)


def test_gate_compares_with_a_reference_evaluation_already_done():
    """Given the float model's evaluation (the quickstart passes training's last one), the gate compares with it
    and does not run the reference again; that row shows no latency, as it was not timed one image at a time."""
    from spinenet_lite.config import DataConfig
    from spinenet_lite.data import load_dataset
    from spinenet_lite.evaluate import evaluate

    size = 64
    data = load_dataset(DataConfig(format="synthetic", synthetic_images=30), "val")
    reference = evaluate(oracle(data, size), data, size, batch_size=4, progress=False)

    def not_again(batch):
        raise AssertionError("the reference was evaluated again")

    rows = parity.parity_gate(not_again, {"same": oracle(data, size), "shifted": oracle(data, size, 0.05)}, data,
                              size, max_drop_float=0.2, reference_metrics=reference)
    by_label = {r.label: r for r in rows}
    assert by_label["keras-fp32"].ap == pytest.approx(reference["AP"]) and reference["AP"] > 95
    assert by_label["keras-fp32"].latency_ms == 0.0
    assert by_label["same"].passed and abs(by_label["same"].delta) < 1e-6
    assert not by_label["shifted"].passed
    reference_line = parity.format_table(rows).splitlines()[1].split()
    assert reference_line[0] == "keras-fp32" and reference_line[-2] == "-"


def test_gate_fails_on_a_tflite_with_zeroed_weights(export_kit, val_data, tmp_path):
    """A real artifact, broken: the zeroed TFLite model runs but finds nothing; the gate names it."""
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(zero_weights(export_kit.artifact("tflite-fp32")))
    rows = parity.parity_gate(oracle(val_data, export_kit.size), {"tflite-broken": broken}, val_data, export_kit.size,
                              max_drop_float=0.2)
    assert rows[-1].label == "tflite-broken" and rows[-1].ap == 0.0 and not rows[-1].passed
    with pytest.raises(SpineNetLiteError, match="tflite-broken"):
        parity.check(rows)


# ---- bad input through the CLI: one line on stderr, exit 1, nothing left behind --------------------------------

@pytest.fixture(scope="module")
def run_dir(export_kit, tmp_path_factory):
    from spinenet_lite.config import Recipe, save_recipe
    from spinenet_lite.runs import save_weights_atomic, write_classes

    run = tmp_path_factory.mktemp("runs") / "tiny"
    recipe = Recipe()
    recipe = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, name=export_kit.model_name,
                                                                   input_size=export_kit.size))
    save_recipe(recipe, run / "recipe.yaml")
    write_classes(run, export_kit.classes)
    save_weights_atomic(export_kit.model, run / "best.weights.h5")
    return run


def cli(args, capsys) -> tuple[int, str]:
    from spinenet_lite.cli import main

    code = main(["export", *map(str, args)])
    err = capsys.readouterr().err.strip()
    return code, err


def assert_one_line(code: int, err: str, *words: str) -> None:
    assert code == 1
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for word in words:
        assert word in err, err


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_missing_checkpoint(tmp_path, capsys):
    code, err = cli([tmp_path / "nope", "--tflite", "--out", tmp_path / "out"], capsys)
    assert_one_line(code, err, "nope", "no such")
    assert not (tmp_path / "out").exists()


def test_corrupt_checkpoint(run_dir, tmp_path, capsys):
    bad = tmp_path / "run"
    bad.mkdir()
    for name in ("recipe.yaml", "classes.txt"):
        (bad / name).write_bytes((run_dir / name).read_bytes())
    (bad / "best.weights.h5").write_bytes((run_dir / "best.weights.h5").read_bytes()[:2000])
    code, err = cli([bad, "--tflite", "--out", tmp_path / "out", "--no-gate"], capsys)
    assert_one_line(code, err, "best.weights.h5", "corrupt")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_checkpoint_of_another_model(run_dir, tmp_path, capsys):
    other = tmp_path / "run"
    other.mkdir()
    (other / "recipe.yaml").write_text((run_dir / "recipe.yaml").read_text())
    (other / "classes.txt").write_text("a\nb\nc\nd\ne\n")  # a 5-class head cannot take the 3-class weights
    (other / "best.weights.h5").write_bytes((run_dir / "best.weights.h5").read_bytes())
    code, err = cli([other, "--tflite", "--out", tmp_path / "out", "--no-gate"], capsys)
    assert_one_line(code, err, "best.weights.h5", "do not fit")
    assert not (tmp_path / "out").exists()


def test_existing_output_folder_needs_overwrite(run_dir, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, err = cli([run_dir, "--tflite", "--out", out, "--no-gate"], capsys)
    assert_one_line(code, err, str(out), "--overwrite")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_folder(run_dir, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, err = cli([run_dir, "--tflite", "--out", locked / "out", "--no-gate"], capsys)
    finally:
        locked.chmod(0o700)
    assert_one_line(code, err, "not writable")


def test_unwritable_folder_check_as_root(tmp_path, monkeypatch):
    """The writability check itself (root bypasses file modes, so os.access is what decides)."""
    from spinenet_lite.export import api

    monkeypatch.setattr(api.os, "access", lambda path, mode: False)
    with pytest.raises(SpineNetLiteError, match="not writable"):
        api.check_out_dir(tmp_path / "out", overwrite=False)


def test_converter_not_installed(run_dir, tmp_path, capsys, monkeypatch):
    """A format whose converter package cannot be imported is refused before any work, naming the package."""
    broken = dataclasses.replace(formats.FORMATS["onnx"], requires=("spinenet_lite_no_such_converter",))
    monkeypatch.setitem(formats.FORMATS, "onnx", broken)
    code, err = cli([run_dir, "--onnx", "--out", tmp_path / "out", "--no-gate"], capsys)
    assert_one_line(code, err, "spinenet_lite_no_such_converter", "pip install")
    assert not (tmp_path / "out").exists()


def test_failed_conversion_leaves_nothing(run_dir, tmp_path, capsys, monkeypatch):
    """A converter that fails mid-export: the error is one line, no output folder and no temporary folder."""
    from spinenet_lite.export import api

    def fail(*args, **kwargs):
        raise SpineNetLiteError("onnx: conversion failed (simulated)")

    monkeypatch.setattr(api, "write_target", fail)
    code, err = cli([run_dir, "--onnx", "--out", tmp_path / "out", "--no-gate"], capsys)
    assert_one_line(code, err, "simulated")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_unknown_combination_refused_before_work(run_dir, tmp_path, capsys):
    code, err = cli([run_dir, "--onnx", "--int8", "--out", tmp_path / "out"], capsys)
    assert_one_line(code, err, "--int8", "onnx")


def test_low_score_threshold_warns_only_for_tflite_detection_models(caplog):
    """Per-class NMS over most anchor-class pairs is slow; the warning names the setting and fires only where that
    NMS runs (TFLite with post-processing, not raw outputs, not ONNX)."""
    from spinenet_lite.export.api import warn_slow_nms

    with caplog.at_level("WARNING"):
        assert warn_slow_nms(0.005, formats.plan_targets(["tflite"], "int8"))
    assert "export.score_threshold 0.005" in caplog.text
    assert not warn_slow_nms(0.05, formats.plan_targets(["tflite"], "int8"))
    assert not warn_slow_nms(0.005, formats.plan_targets(["tflite"], "int8", raw=True))
    assert not warn_slow_nms(0.005, formats.plan_targets(["onnx"]))
