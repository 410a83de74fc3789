"""`spinenet-lite export RUN --android DIR` bundles what the Android demo's code reads.

A tiny untrained SpineNet-49XXS run folder (64 px) is exported into a temporary app folder; the assets the Kotlin
code names (every `*.tflite`, `labels.txt`) must exist, the labels must parse under the app's rules, and the model
must carry TFLite metadata with its labels and the four detection outputs MediaPipe's ObjectDetector takes.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

DEMO = Path(__file__).resolve().parents[1] / "android_demo"
CLASSES = ("RBC", "WBC", "Platelets")
SIZE = 64


def _labels_asset_name() -> str:
    """The labels file name the app reads, from core's `Labels.ASSET`."""
    code = (DEMO / "core" / "src" / "main" / "kotlin" / "org" / "spinenetlite" / "core" / "Labels.kt").read_text()
    return re.search(r'const val ASSET = "([^"]+)"', code).group(1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    from click.testing import CliRunner

    from spinenet_lite.cli import cli
    from spinenet_lite.config import Recipe, save_recipe
    from spinenet_lite.runs import build_model, save_weights_atomic, write_classes

    run = tmp_path_factory.mktemp("runs") / "tiny"
    recipe = Recipe()
    recipe = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, name="spinenet49xxs", input_size=SIZE))
    save_recipe(recipe, run / "recipe.yaml")
    write_classes(run, CLASSES)
    save_weights_atomic(build_model(recipe, num_classes=len(CLASSES)), run / "best.weights.h5")
    app = tmp_path_factory.mktemp("android_demo")
    (app / "settings.gradle.kts").write_text((DEMO / "settings.gradle.kts").read_text())
    args = ["export", str(run), "--tflite", "--int8", "--no-gate", "--android", str(app)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return app / "app" / "src" / "main" / "assets"


def test_assets_named_in_the_code_exist(exported):
    models = sorted(exported.glob("*.tflite"))
    assert models, f"no .tflite in {exported}"
    labels = (exported / _labels_asset_name()).read_text(encoding="utf-8")
    # The app's rules (core Labels.parse): one name per line, trailing blank lines allowed, none in the middle.
    names = labels.lstrip("\ufeff").replace("\r", "").split("\n")
    while names and not names[-1].strip():
        names.pop()
    assert tuple(n.strip() for n in names) == CLASSES


def test_bundled_model_has_metadata_and_four_detection_outputs(exported):
    from ai_edge_litert.interpreter import Interpreter

    from spinenet_lite.export.metadata import read_labels, read_metadata

    for path in sorted(exported.glob("*.tflite")):
        data = path.read_bytes()
        assert read_metadata(data), f"{path.name}: no TFLITE_METADATA"
        assert tuple(read_labels(data)) == CLASSES
        interp = Interpreter(model_content=data)
        interp.allocate_tensors()
        outputs = interp.get_output_details()
        assert len(outputs) == 4, f"{path.name}: {len(outputs)} outputs"
        size = int(interp.get_input_details()[0]["shape"][1])
        assert size == SIZE
        interp.set_tensor(interp.get_input_details()[0]["index"],
                          np.zeros(interp.get_input_details()[0]["shape"], interp.get_input_details()[0]["dtype"]))
        interp.invoke()
        shapes = sorted(tuple(interp.get_tensor(o["index"]).shape) for o in outputs)
        assert any(len(s) == 3 and s[-1] == 4 for s in shapes), shapes  # locations [1, M, 4]
