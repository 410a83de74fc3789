"""`spinenet-lite eval --gt --dets`: the CLI prints and writes the same numbers as the Python API."""
import copy
import json
import subprocess
import sys

import pytest

from spinenet_lite.metrics import detections_to_coco, score_coco


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spinenet_lite", "eval", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture()
def files(hand_case, tmp_path):
    gt, dets = tmp_path / "gt.json", tmp_path / "dets.json"
    gt.write_text(json.dumps(hand_case.gt))
    dets.write_text(json.dumps(detections_to_coco(hand_case.detections)))
    return gt, dets


def test_gt_dets_agrees_with_api_and_hand(hand_case, files, tmp_path):
    gt, dets = files
    out = tmp_path / "metrics.json"
    proc = _run("--gt", str(gt), "--dets", str(dets), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    written = json.loads(out.read_text())
    api = score_coco(copy.deepcopy(hand_case.gt), detections_to_coco(hand_case.detections))
    for key in ("AP", "AP50", "AP75", "APs", "APm", "APl"):
        assert written[key] == pytest.approx(api[key], abs=1e-12), key
    assert written["per_class"] == pytest.approx(api["per_class"], abs=1e-12)
    assert written["AP"] == pytest.approx(hand_case.hand_ap()["AP"], abs=1e-7)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["model", "AP", "AP50", "AP75", "APs", "APm", "APl"]
    assert f"{api['AP']:.1f}" in lines[2] and "n/a" in lines[2]
    assert any(line.split() == ["b", "0.0"] for line in lines)


@pytest.mark.parametrize("args, expect", [
    (["--gt", "GT"], "pass both"),
    ([], "pass RUN_OR_CHECKPOINT"),
    (["--gt", "GT", "--dets", "missing.json"], "missing.json: detections file not found"),
])
def test_usage_errors_are_one_line(files, args, expect):
    gt, _ = files
    proc = _run(*[str(gt) if a == "GT" else a for a in args])
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expect in lines[0], proc.stderr


def test_model_mode_and_gt_dets_mode_agree(tmp_path):
    """`eval RUN` on the run's (tiny synthetic) data, then its saved detections re-scored by `--gt --dets`."""
    import dataclasses

    import numpy as np

    from spinenet_lite.config import Recipe, save_recipe
    from spinenet_lite.data import load_dataset
    from spinenet_lite.data.synthetic import CLASS_NAMES
    from spinenet_lite.metrics import dataset_to_coco
    from spinenet_lite.runs import build_model, save_weights_atomic, write_classes

    base = Recipe()
    recipe = dataclasses.replace(
        base, model=dataclasses.replace(base.model, name="spinenet49xxs", input_size=64),
        data=dataclasses.replace(base.data, format="synthetic", root=str(tmp_path / "synth"), synthetic_images=10),
        export=dataclasses.replace(base.export, score_threshold=0.0),  # keep the untrained model's top 100
    )
    run = tmp_path / "run"
    save_recipe(recipe, run / "recipe.yaml")
    write_classes(run, CLASS_NAMES)
    model = build_model(recipe, num_classes=len(CLASS_NAMES))
    layer = model.get_layer("class_predict")  # spread the untrained scores so ranking matters
    rng = np.random.default_rng(2)
    layer.set_weights([w + rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in layer.get_weights()])
    save_weights_atomic(model, run / "last.weights.h5")

    metrics, dets = tmp_path / "m.json", tmp_path / "dets.json"
    proc = _run(str(run), "--json", str(metrics), "--save-dets", str(dets), "--batch-size", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split()[:2] == ["model", "images"]
    from_model = json.loads(metrics.read_text())
    assert from_model["num_images"] == len(load_dataset(recipe.data, "val").samples) > 0
    assert len(json.loads(dets.read_text())) > 0

    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(dataset_to_coco(load_dataset(recipe.data, "val"))))
    rescored = tmp_path / "r.json"
    proc = _run("--gt", str(gt), "--dets", str(dets), "--json", str(rescored))
    assert proc.returncode == 0, proc.stderr
    again = json.loads(rescored.read_text())
    for key in ("AP", "AP50", "AP75", "APs", "APm", "APl"):
        assert again[key] == pytest.approx(from_model[key], abs=1e-7), key
    assert again["per_class"] == pytest.approx(from_model["per_class"], abs=1e-7)
