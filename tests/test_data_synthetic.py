"""The embedded synthetic set (deterministic, varied, shape-defined classes) and the `data check` command."""
import json
import subprocess
import sys

import numpy as np

from spinenet_lite.config import DataConfig
from spinenet_lite.data import load_dataset
from spinenet_lite.data.synthetic import CLASS_NAMES, generate_synthetic, synthetic_dir


def test_synthetic_is_deterministic_and_split(tmp_path):
    a = generate_synthetic(20, seed=5, root=tmp_path / "a")
    b = generate_synthetic(20, seed=5, root=tmp_path / "b")
    c = generate_synthetic(20, seed=6, root=tmp_path / "c")
    assert (a / "train.json").read_text() == (b / "train.json").read_text()
    assert (a / "images" / "val_00000.jpg").read_bytes() == (b / "images" / "val_00000.jpg").read_bytes()
    assert (a / "train.json").read_text() != (c / "train.json").read_text()
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary folder was renamed into place
    mtime = (a / "val.json").stat().st_mtime_ns
    assert generate_synthetic(20, seed=5, root=tmp_path / "a") == a  # drawn once, then reused
    assert (a / "val.json").stat().st_mtime_ns == mtime
    assert synthetic_dir(20, 5) != synthetic_dir(20, 6)

    cfg = DataConfig(format="synthetic", root=str(a), synthetic_images=20, synthetic_seed=5)
    train, val = load_dataset(cfg, "train"), load_dataset(cfg, "val")
    assert (len(train), len(val)) == (16, 4)
    assert train.class_names == CLASS_NAMES and train.problems == () and val.problems == ()


def test_synthetic_variety(tmp_path):
    root = generate_synthetic(60, seed=0, root=tmp_path / "s")
    train = json.loads((root / "train.json").read_text())
    sizes = {(im["width"], im["height"]) for im in train["images"]}
    assert len(sizes) >= 2 and all(256 <= s <= 320 for wh in sizes for s in wh)
    boxes = np.array([a["bbox"] for a in train["annotations"]], np.float32)
    short = min(min(wh) for wh in sizes)
    side = np.sqrt(boxes[:, 2] * boxes[:, 3]) / short
    aspect = boxes[:, 2] / boxes[:, 3]
    assert side.min() < 0.2 and side.max() > 0.45  # small and large objects (15%-60% of the short side)
    assert aspect.min() < 0.8 and aspect.max() > 1.3  # tall and wide objects
    assert {a["category_id"] for a in train["annotations"]} == set(range(1, len(CLASS_NAMES) + 1))
    per_image = np.bincount([a["image_id"] for a in train["annotations"]])
    assert per_image.max() >= 4  # several objects share an image


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "spinenet_lite", "data", "check", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_data_check_cli(tiny_data, tmp_path):
    root = tiny_data.voc(tmp_path / "voc")
    proc = _cli(str(root), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "images: 3 usable, boxes: 6" in proc.stdout and "problems: none" in proc.stdout
    png = tmp_path / "out" / "voc-all.png"
    assert f"mosaic: {png}" in proc.stdout and png.stat().st_size > 1000

    syn = generate_synthetic(10, seed=1, root=tmp_path / "syn")
    proc = _cli(str(syn / "val.json"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "dataset: coco" in proc.stdout and "circle" in proc.stdout

    for name in ("a", "b", "c"):
        (root / "JPEGImages" / f"{name}.png").unlink()
    proc = _cli(str(root), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1 and "missing_image" in proc.stdout
    assert proc.stderr.strip().count("\n") == 0 and "no usable images" in proc.stderr

    proc = _cli(str(tmp_path / "nothing_here"))
    assert proc.returncode == 1 and "nothing_here" in proc.stderr and "Traceback" not in proc.stderr
