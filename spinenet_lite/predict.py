"""Run a trained model or an exported `.tflite` on image files: annotated copies and `detections.json`.

A model is loaded as a *detector*: a detect function (see ARCHITECTURE.md) with its input size and class
names. Every image goes through the one pre-processing (`spinenet_lite.preprocess`) and its boxes are mapped
back to original pixels with `spinenet_lite.postprocess.to_original_image`.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.io import atomic_write_bytes, atomic_write_text
from spinenet_lite.runs import CLASSES_FILE, Trained, read_classes_file
from spinenet_lite.runtimes import DetectFn

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
DETECTIONS_FILE = "detections.json"


@dataclass(frozen=True)
class Detector:
    """What predict needs from any runtime: the detect function, its square input size and class names."""

    detect_fn: DetectFn
    input_size: int
    class_names: tuple
    source: str


def _classes_near(path: Path) -> tuple | None:
    """class names from a classes.txt beside an exported file or in the run folder above `export/`."""
    for folder in (path.parent, path.parent.parent):
        candidate = folder / CLASSES_FILE
        if candidate.is_file():
            try:
                return read_classes_file(candidate)
            except SpineNetLiteError:  # an empty classes.txt: look further up
                continue
    return None


def load_detector(model: str | Path, conf: float = 0.25, classes: str | Path | None = None) -> Detector:
    """A Detector for a run folder / `.weights.h5` (via load_trained) or an exported `.tflite` file.

    `conf` is the score threshold applied inside the Keras post-processing; a `.tflite` applies its own and
    predict filters by `conf` afterwards. `classes` (a text file) overrides the class names.
    """
    path = Path(model)
    if path.suffix == ".tflite":
        if not path.is_file():
            raise SpineNetLiteError(f"{path}: no such .tflite file; export one with `spinenet-lite export`")
        from spinenet_lite.runtimes.tflite import tflite_detect_fn

        detect_fn = tflite_detect_fn(path)
        names = read_classes_file(classes) if classes else _classes_near(path)
        return Detector(detect_fn, detect_fn.input_size, names or (), str(path))

    from spinenet_lite.runs import load_trained

    trained = load_trained(path)
    return trained_detector(trained, conf, read_classes_file(classes) if classes else None)


def trained_detector(trained: Trained, conf: float = 0.25, class_names: tuple | None = None) -> Detector:
    """A Detector for a run already loaded: its Keras model with the recipe's NMS settings at score `conf`."""
    names = class_names if class_names is not None else tuple(trained.class_names)
    return Detector(trained.detect_fn(score_threshold=conf), trained.input_size, names, str(trained.path))


def find_images(inputs: Sequence[str | Path]) -> list[Path]:
    """Image files named or contained (not recursively) in folders, in the given order, each once."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise SpineNetLiteError(f"{path}: no such image or folder; pass image files or folders of images")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise SpineNetLiteError(f"{', '.join(map(str, inputs))}: no images ({'/'.join(IMAGE_SUFFIXES)}) found")
    return unique


def _output_name(path: Path, taken: set) -> str:
    """The original file name, made unique within the output folder (a.jpg, a_1.jpg, ...)."""
    name, i = path.name, 0
    while name in taken:
        i += 1
        name = f"{path.stem}_{i}{path.suffix}"
    taken.add(name)
    return name


def _label_name(label: int, class_names: Sequence[str]) -> str:
    return str(class_names[label]) if 0 <= label < len(class_names) else str(label)


def detect_images(detector: Detector, images: Sequence[Path], conf: float = 0.25) -> list[dict]:
    """Per image {file, width, height, boxes xyxy original pixels, scores, labels, classes}, scores >= conf."""
    from spinenet_lite.postprocess import to_original_image
    from spinenet_lite.preprocess import letterbox, load_image

    results = []
    for path in images:
        image = load_image(path)
        height, width = image.shape[:2]
        boxed, scale = letterbox(image, detector.input_size)
        out = detector.detect_fn(np.asarray(boxed, np.float32)[None])[0]
        scores = np.asarray(out["scores"], np.float32).reshape(-1)
        keep = scores >= conf
        boxes = np.asarray(out["boxes"], np.float32).reshape(-1, 4)[keep]
        boxes = np.asarray(to_original_image(boxes, detector.input_size, float(np.asarray(scale)), (height, width)))
        labels = np.asarray(out["labels"]).reshape(-1)[keep].astype(int)
        results.append({
            "file": str(path), "width": int(width), "height": int(height),
            "boxes": [[round(float(v), 2) for v in box] for box in boxes.reshape(-1, 4)],
            "scores": [round(float(s), 6) for s in scores[keep]],
            "labels": [int(label) for label in labels],
            "classes": [_label_name(int(label), detector.class_names) for label in labels],
        })
    return results


def predict(
    model: str | Path | Detector, images: Sequence[str | Path], out_dir: str | Path = "predictions", conf: float = 0.25,
    classes: str | Path | None = None, draw: bool = True,
) -> dict:
    """Detect objects in `images`, write annotated copies and `detections.json` into `out_dir`.

    `model` is a run folder, `.weights.h5` or `.tflite` path, or an already loaded `Detector`.

    Returns the JSON document: {model, input_size, conf, class_names, images: [per-image dicts with the
    annotated file under "output"]}.
    """
    if not 0.0 <= conf <= 1.0:
        raise SpineNetLiteError(f"conf: must be within 0..1, got {conf}")
    paths = find_images(images)
    detector = model if isinstance(model, Detector) else load_detector(model, conf=conf, classes=classes)
    results = detect_images(detector, paths, conf=conf)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if draw:
        from spinenet_lite.preprocess import load_image
        from spinenet_lite.visualize import draw_detections

        taken: set = set()
        for path, result in zip(paths, results):
            picture = draw_detections(
                load_image(path), np.asarray(result["boxes"], np.float32).reshape(-1, 4),
                np.asarray(result["labels"], np.int32), np.asarray(result["scores"], np.float32),
                detector.class_names,
            )
            name = _output_name(path, taken)
            buffer = io.BytesIO()
            fmt = {".png": "PNG", ".bmp": "BMP"}.get(path.suffix.lower(), "JPEG")
            picture.convert("RGB").save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
            atomic_write_bytes(out / name, buffer.getvalue())
            result["output"] = str(out / name)
    doc = {"model": detector.source, "input_size": detector.input_size, "conf": conf,
           "class_names": list(detector.class_names), "images": results}
    atomic_write_text(out / DETECTIONS_FILE, json.dumps(doc, indent=1) + "\n")
    return doc
