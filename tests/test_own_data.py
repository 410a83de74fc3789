"""Training on one's own data as the README says: the recipes it names, format switches, bad input named."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spinenet_lite.config import load_recipe, recipe_from_dict
from spinenet_lite.data import load_dataset
from spinenet_lite.errors import SpineNetLiteError

BCCD = Path(__file__).resolve().parents[1] / "datasets" / "bccd"


def _coco_layout(tiny_data, root: Path) -> Path:
    """The usual COCO layout: images/ with bare file names, annotations/{train,val}.json beside it."""
    ann = tiny_data.coco(root, file_names={e[0]: f"{e[0]}.png" for e in tiny_data.entries})
    (root / "annotations").mkdir()
    shutil.copy(ann, root / "annotations" / "train.json")
    shutil.move(ann, root / "annotations" / "val.json")
    return root


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo"])
def test_the_readme_training_line_reads_each_format_with_the_small_recipe(tiny_data, tmp_path, fmt):
    if fmt == "voc":
        sets = ["data.format=voc", f"data.root={tiny_data.voc(tmp_path)}"]
    elif fmt == "coco":
        root = _coco_layout(tiny_data, tmp_path)
        sets = ["data.format=coco", f"data.root={root / 'images'}", f"data.train={root / 'annotations/train.json'}",
                f"data.val={root / 'annotations/val.json'}"]
    else:
        sets = ["data.format=yolo", f"data.root={tiny_data.yolo(tmp_path)}"]
    recipe = load_recipe("small", sets)
    train, val = load_dataset(recipe.data, "train"), load_dataset(recipe.data, "val")
    assert len(train) == 3 and len(val) >= 1 and train.class_names == ("cat", "dog")
    assert not [p for p in train.problems if p.kind != "image_mode"], train.problems


def test_a_coco_split_name_finds_the_usual_annotation_file(tiny_data, tmp_path):
    root = _coco_layout(tiny_data, tmp_path)
    recipe = load_recipe("small", ["data.format=coco", f"data.root={root / 'images'}"])
    assert len(load_dataset(recipe.data, "train")) == 3
    (root / "annotations" / "val.json").unlink()
    with pytest.raises(SpineNetLiteError, match=r"data.val: no COCO annotation file for split 'val' .*instances_val"):
        load_dataset(recipe.data, "val")


def test_switching_a_paper_recipe_to_voc_uses_the_voc_split_names():
    recipe = load_recipe("49xxs", ["data.format=voc", f"data.root={BCCD}"])
    assert (recipe.data.train, recipe.data.val) == ("train", "val")
    assert (len(load_dataset(recipe.data, "train")), len(load_dataset(recipe.data, "val"))) == (205, 87)
    named = load_recipe("49xxs", ["data.format=voc", f"data.root={BCCD}", "data.val=test"])
    assert (named.data.train, named.data.val) == ("train", "test")
    assert load_recipe("49xxs").data.train == "annotations/instances_train2017.json"


def test_the_bccd_recipe_finds_the_shipped_set_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe("bccd")
    assert Path(recipe.data.root) == BCCD.resolve()
    assert len(load_dataset(recipe.data, "train")) == 205
    bccd = recipe.train
    small = load_recipe("small").train
    assert (bccd.batch_size, bccd.learning_rate, bccd.warmup_steps, bccd.schedule) == (8, 0.08, 100, "cosine")
    assert (small.batch_size, small.learning_rate, small.schedule, small.freeze_bn_epochs) == (8, 0.08, "cosine", 2)


def test_a_batch_larger_than_the_data_names_the_small_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINENET_LITE_CACHE", str(tmp_path / "cache"))
    from spinenet_lite.train.trainer import train

    recipe = load_recipe("quickstart", ["data.synthetic_images=40", "train.batch_size=256"])
    with pytest.raises(SpineNetLiteError, match=r"256 is larger than the 32 training images; .*`small` recipe"):
        train(recipe, tmp_path / "run", progress=False)


@pytest.mark.parametrize("override, message", [
    ("train.epochs=-3", "train.epochs is -3; use >= 1"),
    ("train.epochs=0", "train.epochs is 0; use >= 1"),
    ("train.epochs=2.5", "train.epochs: expected a whole number"),
    ("train.batch_size=0", "train.batch_size is 0; use >= 1"),
    ("train.learning_rate=0", "train.learning_rate is 0.0; use > 0"),
    ("train.learning_rate=-0.1", "train.learning_rate is -0.1"),
    ("train.momentum=1.5", "train.momentum is 1.5; use in \\[0, 1\\)"),
    ("train.stochastic_depth=1", "train.stochastic_depth"),
    ("train.strategy=mirored", 'did you mean "mirrored"'),
    ("train.epochs=true", "train.epochs: expected a number"),
    ("data.scale_min=1.5", "data.scale_min 1.5 is above data.scale_max 1.25"),
    ("data.scale_max=0", "data.scale_max is 0.0; use > 0"),
    ("model.input_size=100", "model.input_size is 100; use a multiple of 32"),
    ("export.iou_threshold=0", "export.iou_threshold"),
    ("export.max_detections=0", "export.max_detections"),
    ("model.name=[a, b]", "model.name: expected text"),
])
def test_every_recipe_field_is_checked_for_type_and_range(override, message):
    with pytest.raises(SpineNetLiteError, match=message):
        load_recipe("small", [override])


def test_an_empty_recipe_is_an_error_and_model_takes_a_name(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# only a comment\n")
    with pytest.raises(SpineNetLiteError, match="empty.yaml: empty recipe"):
        load_recipe(str(empty))
    short = tmp_path / "short.yaml"
    short.write_text("model: spinenet49xxs\ntrain: {epochs: 3}\n")
    assert load_recipe(str(short)).model.name == "spinenet49xxs"
    with pytest.raises(SpineNetLiteError, match=r"section 'train' must be a mapping of its fields, e\.g\. `train: "):
        recipe_from_dict({"train": 5})


def test_a_coco_file_without_annotations_is_named(tiny_data, tmp_path):
    ann = tiny_data.coco(tmp_path)
    data = json.loads(ann.read_text())
    del data["annotations"]
    ann.write_text(json.dumps(data))
    from spinenet_lite.data.coco import read_coco

    with pytest.raises(SpineNetLiteError, match=r"ann.json: no 'annotations' list"):
        read_coco(ann)


def test_an_empty_split_file_is_named(tiny_data, tmp_path):
    from spinenet_lite.data.voc import read_voc
    from spinenet_lite.data.yolo import read_yolo

    root = tiny_data.voc(tmp_path / "voc", splits={"train": ["a"], "val": []})
    with pytest.raises(SpineNetLiteError, match=r"val.txt: split file lists no images"):
        read_voc(root, "val")
    data_yaml = tiny_data.yolo(tmp_path / "yolo")
    (tmp_path / "yolo" / "val.txt").write_text("\n")
    data_yaml.write_text(data_yaml.read_text().replace("val: images/train", "val: val.txt"))
    with pytest.raises(SpineNetLiteError, match=r"val.txt: split list names no images"):
        read_yolo(data_yaml, "val")


def test_a_box_at_the_edge_by_six_decimal_rounding_is_not_reported(tiny_data, tmp_path):
    """YOLO's 6-decimal coordinates put a box ending at the image edge up to ~0.001 px outside."""
    from spinenet_lite.data.yolo import read_yolo

    entries = (("a", 640, 480, [[469, 412, 567, 480], [600, 10, 645, 40]], [0, 1]),)
    ds = read_yolo(tiny_data.yolo(tmp_path, entries=entries), "train")
    kinds = [(p.kind, p.message) for p in ds.problems]
    assert len(kinds) == 1 and kinds[0][0] == "box_clipped" and "box 1" in kinds[0][1], kinds  # 5 px out: real
    assert ds.samples[0].boxes[0, 3] == 480.0 and ds.samples[0].boxes[1, 2] == 640.0


def _data_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spinenet_lite", "data", "check", *args], capture_output=True,
                          text=True, timeout=300)


def test_data_check_takes_the_image_folder_of_a_coco_set(tiny_data, tmp_path):
    root = _coco_layout(tiny_data, tmp_path)
    ann = root / "annotations" / "train.json"
    out = str(tmp_path / "check")
    without = _data_check(str(ann), "--out", out)
    assert without.returncode == 1 and "pass it with --images" in without.stderr
    found = _data_check(str(ann), "--images", str(root / "images"), "--out", out, "--mosaic", "2")
    assert found.returncode == 0, found.stderr
    assert "images: 3 usable" in found.stdout and "problems: none" in found.stdout
    assert list((tmp_path / "check").glob("*.png"))


def test_ctrl_c_before_the_first_checkpoint_does_not_promise_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPINENET_LITE_CACHE", str(tmp_path / "cache"))
    import spinenet_lite.train.step as step
    from spinenet_lite.train.trainer import train

    def interrupted_step(*args, **kwargs):
        def fn(iterator, num_steps):
            raise KeyboardInterrupt
        return fn

    monkeypatch.setattr(step, "make_train_loop", interrupted_step)
    recipe = load_recipe("quickstart", ["model.input_size=64", "model.overrides={head_convs: 1}",
                                        "data.synthetic_images=20", "train.batch_size=4"])
    with pytest.raises(KeyboardInterrupt):
        train(recipe, tmp_path / "run", progress=False)
    err = capsys.readouterr().err
    assert "interrupted at step 0, before the first checkpoint" in err and "last complete checkpoint" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_time_budget_re_fits_the_warm_up_and_the_log_says_so(capsys):
    """The paper recipe's 2000-step warm-up in a budget that fits 100 steps: the trainer's re-fit ends the run
    annealed, and its log line states the schedule it now follows."""
    from types import SimpleNamespace

    from spinenet_lite.train.schedule import make_schedule
    from spinenet_lite.train.trainer import _Loop

    recipe = load_recipe("49xxs", ["train.batch_size=8"])
    schedule = make_schedule(recipe.train, 25 * 600)
    loop = SimpleNamespace(recipe=recipe, steps_per_epoch=25, schedule=schedule, total_steps=25 * 600)
    # after 2 epochs (50 steps), 2 s a step and 150 s left: 3 more epochs fit
    total = _Loop._fit_budget(loop, step=50, seconds_left=150.0, seconds_per_step=2.0, eval_seconds=0.0)
    assert total == 125 and schedule.warmup_steps == 31
    assert float(schedule(124)) == pytest.approx(0.32 * 0.01) and float(schedule(30)) == pytest.approx(0.32)
    err = capsys.readouterr().err
    assert "3 more epochs fit" in err and "warm-up over steps 0-31 (train.warmup_steps 2000 cut" in err
    assert "x0.1 at steps 119, 123, run ends at step 125" in err


def test_a_coco_annotation_path_is_found_beside_the_image_folder(tiny_data, tmp_path, monkeypatch):
    """The README's COCO line (`data.root=images/ data.train=annotations/train.json`) from another folder."""
    root = _coco_layout(tiny_data, tmp_path / "set")
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe("small", ["data.format=coco", f"data.root={root / 'images'}",
                                   "data.train=annotations/train.json", "data.val=annotations/val.json"])
    assert len(load_dataset(recipe.data, "train")) == 3 and len(load_dataset(recipe.data, "val")) == 3


@pytest.mark.slow
def test_the_readme_voc_line_trains_the_small_recipe_on_bccd(tmp_path):
    """`spinenet-lite train small --set data.format=voc --set data.root=datasets/bccd`, at 64 px for one epoch."""
    sets = ["data.format=voc", f"data.root={BCCD}", "model.name=spinenet49xxs", "model.input_size=64",
            "model.overrides={head_convs: 1}", "train.epochs=1", "train.freeze_bn_epochs=0"]
    proc = subprocess.run([sys.executable, "-m", "spinenet_lite", "train", "small", "--no-progress", "--project",
                           str(tmp_path), "--name", "bccd", *[a for s in sets for a in ("--set", s)]],
                          capture_output=True, text=True, timeout=2400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from spinenet_lite.train.history import read_history

    rows = read_history(tmp_path / "bccd" / "results.csv")
    assert rows[-1]["step"] == 205 // 8 and rows[-1]["AP"] >= 0.0
    assert "schedule: lr 0.08, linear warm-up over steps 0-6 (train.warmup_steps 100 cut" in proc.stderr
