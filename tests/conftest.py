"""Fixtures shared by the test modules (pytest finds them by name; test modules never import each other).

- `bccd_root`: the BCCD blood-cell set that ships in `datasets/bccd/`; a test that needs it fails, never skips,
  when it is missing.
- `tiny_data`: three small images in COCO, VOC and YOLO layouts with the same content, written on demand.
- `export_kit`: the export tests' real spinenet49xxs at 64 px, BCCD images, and each artifact converted once.
- `bccd_float_run`: a float run folder on a BCCD subset written by the real trainer (QAT, the quickstart's
  fallback).
- `bccd_qat_fallback`: the quickstart's int8 step on a copy of that run, failing its PTQ gate so that QAT runs:
  the one QAT run of the QAT tests and the quickstart fallback test.
- `hand_case`: one image's ground truth and detections whose COCO AP is worked out by hand.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
BCCD = REPO / "datasets" / "bccd"


# Shared fixtures too costly to build twice: the test runner (`--dist loadgroup`) keeps every file that uses one
# on the same worker, so each is built once per run. Other files stay whole on one worker each.
SHARED_ACROSS_FILES = ("export_kit", "bccd_float_run")  # bccd_qat_fallback uses bccd_float_run


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """An `xdist_group` per file: the name of the shared fixture the file uses, else the file's own path."""
    uses: dict[str, set] = {}
    for item in items:
        uses.setdefault(item.nodeid.split("::")[0], set()).update(
            name for name in SHARED_ACROSS_FILES if name in getattr(item, "fixturenames", ()))
    for item in items:
        path = item.nodeid.split("::")[0]
        shared = sorted(uses[path])
        item.add_marker(pytest.mark.xdist_group(shared[0] if shared else Path(path).stem))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="session", name="cosine")
def cosine_fixture():
    """Cosine similarity of two arrays (flattened, float64)."""
    return cosine


# ---- a COCO case scored by hand ---------------------------------------------------------------------------------

class HandCase:
    """One image, ground truth and ranked detections whose COCO AP is worked out by hand (`hand_ap`)."""

    # One 200x200 image. Class "a": two 40x40 GT boxes; class "b": one GT box and no detections.
    # Ranked detections of "a": d1 (0.9) = GT1 exactly, d2 (0.8) hits nothing, d3 (0.7) = GT2 shifted by 8 px,
    # IoU 32*40 / (48*40) = 2/3: a true positive for IoU thresholds 0.50..0.65, a false positive for 0.70..0.95.
    gt = {
        "images": [{"id": 7, "width": 200, "height": 200, "file_name": "x.jpg"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 1600, "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [100, 100, 40, 40], "area": 1600, "iscrowd": 0},
            {"id": 3, "image_id": 7, "category_id": 2, "bbox": [10, 100, 40, 40], "area": 1600, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }
    # Per-image detections in the project's format (xyxy pixels, labels 0..C-1).
    detections = [{
        "image_id": 7,
        "boxes": np.array([[10, 10, 50, 50], [150, 10, 190, 50], [108, 100, 148, 140]], np.float32),
        "scores": np.array([0.9, 0.8, 0.7], np.float32),
        "labels": np.array([0, 0, 0], np.int32),
    }]

    @staticmethod
    def hand_ap():
        """AP of class "a" by hand, in points: precision/recall after each ranked detection, 101 recall points."""
        # TP at IoU <= 0.65: d1, d3 -> (P, R) = (1, .5), (.5, .5), (2/3, 1). Interpolated precision is the max
        # precision at recall >= r: 1 for r in 0.00..0.50 (51 points), 2/3 for r in 0.51..1.00 (50 points).
        high = (51 * 1.0 + 50 * (2 / 3)) / 101
        # TP at IoU >= 0.70: d1 only -> recall tops at .5: precision 1 for 51 points, 0 for the other 50.
        low = 51 / 101
        ap_a = (4 * high + 6 * low) / 10  # thresholds .50 .55 .60 .65 vs .70 .. .95
        return {"a": 100 * ap_a, "AP": 100 * ap_a / 2, "AP50": 100 * high / 2, "AP75": 100 * low / 2}  # "b" has AP 0


@pytest.fixture(scope="session")
def hand_case() -> HandCase:
    """Read-only: deep-copy `gt` before handing it to code that may change it."""
    return HandCase()


# ---- the shipped BCCD set ---------------------------------------------------------------------------------------

def require_bccd() -> Path:
    """`datasets/bccd`, or a failed test naming what is missing and how to restore it."""
    for part in ("Annotations", "JPEGImages", "ImageSets/Main/test.txt"):
        if not (BCCD / part).exists():
            pytest.fail(f"{BCCD / part}: missing; the BCCD dataset the tests use ships with the repository "
                        "(restore it with: git checkout -- datasets/bccd)", pytrace=False)
    return BCCD


@pytest.fixture(scope="session")
def bccd_root() -> Path:
    """The BCCD dataset folder (Pascal VOC layout: Annotations, JPEGImages, ImageSets/Main/{train,val,test}.txt)."""
    return require_bccd()


# ---- tiny datasets in the three layouts -------------------------------------------------------------------------

class TinyData:
    """Three small images (black, with bright filled boxes so a test can find the boxes in the pixels) written as
    COCO, VOC or YOLO with the same content. `entries` rows: (file stem, width, height, boxes xyxy, labels)."""

    names = ("cat", "dog")
    entries = (
        ("a", 64, 48, [[4, 6, 30, 40], [34, 10, 60, 30]], [0, 1]),
        ("b", 48, 64, [[10, 10, 40, 50]], [1]),
        ("c", 80, 40, [[0, 0, 20, 20], [50, 5, 78, 35], [20, 22, 40, 38]], [0, 0, 1]),
    )

    @staticmethod
    def image(width: int, height: int, boxes, value: int = 230) -> Image.Image:
        arr = np.zeros((height, width, 3), np.uint8)
        for x0, y0, x1, y1 in boxes:
            arr[int(y0):int(y1), int(x0):int(x1)] = value
        return Image.fromarray(arr)

    def write_images(self, folder: Path, entries=None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for stem, w, h, boxes, _ in entries or self.entries:
            self.image(w, h, boxes).save(folder / f"{stem}.png")

    def coco(self, root: Path, entries=None, names=None, file_names=None) -> Path:
        """root/images/*.png and root/ann.json; category ids start at 7 to test the id -> index mapping."""
        entries, names = entries or self.entries, names or self.names
        self.write_images(root / "images", entries)
        images, anns = [], []
        for i, (stem, w, h, boxes, labels) in enumerate(entries):
            file_name = (file_names or {}).get(stem, f"images/{stem}.png")
            images.append({"id": 100 + i, "file_name": file_name, "width": w, "height": h})
            for (x0, y0, x1, y1), label in zip(boxes, labels):
                anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": 7 + label,
                             "bbox": [x0, y0, x1 - x0, y1 - y0]})
        cats = [{"id": 7 + i, "name": n} for i, n in enumerate(names)]
        path = root / "ann.json"
        path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
        return path

    @staticmethod
    def voc_xml(stem: str, w: int, h: int, objects) -> str:
        objs = "".join(
            f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
            f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for name, b in objects)
        return (f"<annotation><filename>{stem}.png</filename><size><width>{w}</width><height>{h}</height>"
                f"<depth>3</depth></size>{objs}</annotation>")

    def voc(self, root: Path, entries=None, names=None, splits=None) -> Path:
        """root/JPEGImages, root/Annotations and root/ImageSets/Main/{split}.txt (default: all train, "c" val)."""
        entries, names = entries or self.entries, names or self.names
        self.write_images(root / "JPEGImages", entries)
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        for stem, w, h, boxes, labels in entries:
            objects = [(names[label], box) for box, label in zip(boxes, labels)]
            (root / "Annotations" / f"{stem}.xml").write_text(self.voc_xml(stem, w, h, objects))
        (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
        splits = splits or {"train": [e[0] for e in entries], "val": [entries[-1][0]]}
        for split, stems in splits.items():
            (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(stems) + "\n")
        return root

    def yolo(self, root: Path, entries=None, names=None) -> Path:
        """root/images/train, root/labels/train and root/data.yaml (val is the train folder)."""
        entries, names = entries or self.entries, names or self.names
        self.write_images(root / "images" / "train", entries)
        (root / "labels" / "train").mkdir(parents=True, exist_ok=True)
        for stem, w, h, boxes, labels in entries:
            lines = [f"{label} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} "
                     f"{(y1 - y0) / h:.6f}" for (x0, y0, x1, y1), label in zip(boxes, labels)]
            (root / "labels" / "train" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
        data_yaml = root / "data.yaml"
        data_yaml.write_text(f"path: .\ntrain: images/train\nval: images/train\nnames: {list(names)}\n")
        return data_yaml


@pytest.fixture(scope="session")
def tiny_data() -> TinyData:
    return TinyData()


# ---- the export tests' model and artifacts ----------------------------------------------------------------------

class ExportKit:
    """The registry's real SpineNet-49XXS at 64 px with 3 classes, BCCD images, and its exports.

    Its untrained class predictor scores every anchor at the 0.01 prior and its features are near zero (batch norm
    at its initial statistics), so batch norm is re-estimated on real images and the predictors are spread
    (seeded): outputs then depend on the image. `artifact(kind)` converts on first use and keeps the bytes for the
    whole test process, so the TFLite, ONNX, Core ML, gate and CLI tests share one conversion per format.
    """

    size = 64
    classes = ("RBC", "WBC", "Platelets")
    model_name = "spinenet49xxs"
    score_threshold = 0.3
    max_detections = 10
    variance_floor = 0.01  # caps a BN gain at 10x after re-estimation on 8 images

    def __init__(self, bccd: Path):
        self.image_paths = sorted((bccd / "JPEGImages").glob("*.jpg"))
        self._model = None
        self._artifacts: dict[str, bytes] = {}

    def images(self, n: int, size: int | None = None) -> np.ndarray:
        """The first `n` BCCD images, letterboxed to `size` (default the kit's), float32 0..255."""
        from spinenet_lite.preprocess import letterbox, load_image

        return np.stack([np.asarray(letterbox(load_image(p), size or self.size)[0], np.float32)
                         for p in self.image_paths[:n]])

    @property
    def model(self):
        """The detector, built once: batch norm estimated on 8 images, predictors spread."""
        if self._model is None:
            from spinenet_lite.keras import keras
            from spinenet_lite.models.registry import create_model

            keras.utils.set_random_seed(1)
            model = create_model(self.model_name, num_classes=len(self.classes), input_size=self.size)
            self._estimate_batch_norm(model, self.images(8))
            self._spread_predictors(model)
            self._model = model
        return self._model

    def _estimate_batch_norm(self, model, images: np.ndarray) -> None:
        """Set every BN layer's moving statistics to those of `images` (one training-mode pass, momentum 0)."""
        from spinenet_lite.keras import keras

        layers = [layer for layer in model.submodules if isinstance(layer, keras.layers.BatchNormalization)]
        momenta = [layer.momentum for layer in layers]
        for layer in layers:
            layer.momentum = 0.0
        model(images, training=True)
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
            # a channel that barely varies on 8 images would be amplified up to 1/sqrt(epsilon): cap its gain
            layer.moving_variance.assign(np.maximum(layer.moving_variance.numpy(), self.variance_floor))

    @staticmethod
    def _spread_predictors(model, seed: int = 1, scale: float = 0.5) -> None:
        """Distinct class scores (the focal-loss prior makes them all 0.01) and box encodings of a trained model's
        scale (the untrained box predictor outputs a few hundredths)."""
        rng = np.random.default_rng(seed)
        for name in ("class_predict", "box_predict"):
            layer = model.get_layer(name)
            *kernels, bias = layer.get_weights()
            kernels = [w + rng.normal(0, scale, w.shape).astype(w.dtype) for w in kernels]
            bias = rng.normal(-1.0 if name == "class_predict" else 0.0, 1.0, bias.shape).astype(bias.dtype)
            layer.set_weights([*kernels, bias])

    def calibration(self):
        for image in self.images(8):
            yield image[None]

    def artifact(self, kind: str) -> bytes:
        """The bytes of one export of `model`, converted once.

        kinds: tflite-{fp32,fp16,int8}-raw, tflite-{fp32,int8} (detection op; int8 carries metadata), onnx-fp32.
        """
        if kind not in self._artifacts:
            self._artifacts[kind] = self._convert(kind)
        return self._artifacts[kind]

    def _convert(self, kind: str) -> bytes:
        from spinenet_lite.anchors import generate_anchors
        from spinenet_lite.export import metadata, onnx, tflite

        anchors = generate_anchors(self.size)
        parts = kind.split("-")
        if parts[0] == "onnx":
            return onnx.convert(self.model, anchors, score_threshold=self.score_threshold,
                                max_detections=self.max_detections)
        precision, raw = parts[1], parts[-1] == "raw"
        options = tflite.PostProcessOptions(max_detections=self.max_detections, score_threshold=self.score_threshold)
        data = tflite.convert(self.model, anchors, precision, raw=raw, options=options,
                              calibration=self.calibration if precision == "int8" else None)
        if precision == "int8" and not raw:
            data = metadata.attach_metadata(data, metadata.DetectorMetadata(self.model_name, self.classes, self.size))
        return data

    def artifact_file(self, kind: str, folder: Path) -> Path:
        """`artifact(kind)` written to a file in `folder`."""
        suffix = ".onnx" if kind.startswith("onnx") else ".tflite"
        path = Path(folder) / f"{kind}{suffix}"
        path.write_bytes(self.artifact(kind))
        return path


@pytest.fixture(scope="session")
def export_kit(bccd_root) -> ExportKit:
    return ExportKit(bccd_root)


# ---- trained BCCD runs ------------------------------------------------------------------------------------------

def bccd_recipe(size: int = 64, root: Path | None = None):
    """spinenet49xxs on BCCD (train / test splits) at `size` px, one epoch, batch 8, one QAT epoch."""
    from spinenet_lite.config import DataConfig, ModelConfig, Recipe, TrainConfig

    return Recipe(model=ModelConfig(name="spinenet49xxs", input_size=size),
                  data=DataConfig(format="voc", root=str(root or require_bccd()), train="train", val="test",
                                  scale_min=0.75, scale_max=1.25),
                  train=TrainConfig(epochs=1, batch_size=8, warmup_steps=0, stochastic_depth=0.0, qat_epochs=1))


def bccd_subset(folder: Path, train: int = 32, test: int = 16) -> Path:
    """The first `train` / `test` images of BCCD's train / test splits copied to a VOC folder (the three classes
    all occur in them): a training run, its evaluation, QAT and the export gate on real images in seconds."""
    import shutil

    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for split, count in (("train", train), ("test", test)):
        stems = (require_bccd() / "ImageSets" / "Main" / f"{split}.txt").read_text().split()[:count]
        for stem in stems:
            shutil.copy(BCCD / "Annotations" / f"{stem}.xml", folder / "Annotations")
            shutil.copy(BCCD / "JPEGImages" / f"{stem}.jpg", folder / "JPEGImages")
        (folder / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(stems) + "\n")
    return folder


@pytest.fixture(scope="session", name="bccd_recipe")
def bccd_recipe_fixture():
    """A function returning the BCCD test recipe (a fresh `Recipe` per call; `dataclasses.replace` to vary it)."""
    return bccd_recipe


@pytest.fixture(scope="session")
def bccd_float_run(tmp_path_factory, bccd_root) -> Path:
    """A float run folder written by the real trainer (3 steps at 64 px on `bccd_subset`), predictors spread.

    After 3 steps the box predictor is still ~0 (zero init) and every class logit is the prior: both predictors
    are spread so the raw outputs carry signal and an int8-vs-float cosine check can fail. Read-only for tests:
    copy it to change it.
    """
    from spinenet_lite.runs import load_trained, save_weights_atomic
    from spinenet_lite.train.trainer import train

    run = tmp_path_factory.mktemp("runs") / "float"
    train(bccd_recipe(root=bccd_subset(tmp_path_factory.mktemp("bccd_subset"))), run, progress=False, max_steps=3)
    trained = load_trained(run)
    rng = np.random.default_rng(1)
    for name in ("class_predict", "box_predict"):
        layer = trained.model.get_layer(name)
        layer.set_weights([w + rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in layer.get_weights()])
    save_weights_atomic(trained.model, trained.path)
    return run


@pytest.fixture(scope="session")
def bccd_qat_fallback(tmp_path_factory, bccd_float_run):
    """The quickstart's int8 step (`export_int8`) on a copy of `bccd_float_run` whose PTQ model cannot pass its gate
    (`max_ap_drop_int8: -100`, a limit no model meets): its QAT fallback fine-tunes for `qat_epochs` (1) into
    RUN/qat and replaces the PTQ export. QAT trains on the subset's 16-image test split (2 steps at batch 8).

    Returns (QuickstartResult, printed lines); `result.qat` is the QAT run. Read-only for tests.
    """
    import shutil

    from spinenet_lite.quickstart import QuickstartResult, export_int8
    from spinenet_lite.runs import load_trained

    run = tmp_path_factory.mktemp("runs") / "fallback"
    shutil.copytree(bccd_float_run, run)
    recipe_file = run / "recipe.yaml"
    text = recipe_file.read_text()
    for old in ("max_ap_drop_int8: 1.5", "  train: train\n"):
        assert old in text, f"{recipe_file}: no {old!r} to change"
    recipe_file.write_text(text.replace("max_ap_drop_int8: 1.5", "max_ap_drop_int8: -100.0")
                           .replace("  train: train\n", "  train: test\n"))
    # as `run_quickstart` hands it on: the trained model in memory
    trained = load_trained(run)
    assert trained.recipe.data.train == "test"
    qs = QuickstartResult(run_dir=run, recipe=trained.recipe, train=None, metrics={}, num_train=0, num_val=0,
                          seconds=0.0, progress=False, trained=trained)
    return qs, export_int8(qs)
