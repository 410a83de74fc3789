"""Write the golden files the Kotlin core tests decode: `python android_demo/tools/make_golden.py`.

A tiny random-weight spinenet49xxs (128 px, 3 classes) is exported to a raw fp32 TFLite model and run with
ai-edge-litert on a few real BCCD images. For each image the raw outputs (box encodings, class logits) are
stored as little-endian float32 `.bin`, together with the anchors from `spinenet_lite.anchors` and the
detections of `spinenet_lite.postprocess.postprocess` under a couple of post-processing settings. The Kotlin
tests must reproduce those detections from the raw outputs with their own anchors, decoder and NMS.

An untrained model is useless for this as it is: its activations fade to ~1e-8 by the head (BatchNorm statistics
at their initial 0 / 1), so every location predicts the prior 0.01 and the same box. The generator therefore sets
the BatchNorm statistics from the images (one training-mode pass, momentum 0), then squashes both outputs with a
signed log (`gain * sign(x) * log(1 + |x|) + offset`, plain TFLite ops in the exported graph) so box encodings and
scores are spread like a trained detector's: hundreds of candidates to threshold, rank and suppress.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "core" / "src" / "test" / "resources" / "golden"
DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "datasets" / "bccd" / "JPEGImages"
IMAGE_NAMES = ("BloodImage_00000.jpg", "BloodImage_00017.jpg")
MODEL, NUM_CLASSES, INPUT_SIZE = "spinenet49xxs", 3, 128
BOX_GAIN, CLASS_GAIN, CLASS_LOGIT_OFFSET, SEED = 0.1, 0.5, -2.0, 7
# Two settings so both NMS modes, the pre-NMS top-k and the max-detections cut are exercised.
SETTINGS = (
    {"name": "per_class", "score_threshold": 0.3, "iou_threshold": 0.5, "max_detections": 25,
     "per_class": True, "pre_nms_top_k": 300},
    {"name": "agnostic", "score_threshold": 0.2, "iou_threshold": 0.5, "max_detections": 40,
     "per_class": False, "pre_nms_top_k": 150},
)


def letterboxed(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """`spinenet_lite.preprocess.letterbox` as numpy float32 [S, S, 3] and a float scale."""
    from spinenet_lite.preprocess import letterbox

    boxed, scale = letterbox(image, size)
    return np.asarray(boxed, np.float32), float(scale)


def build_tflite(calibration: list[np.ndarray], seed: int = SEED) -> bytes:
    """The tiny model, BN statistics from `calibration` images, outputs squashed (see module doc), as raw fp32 TFLite."""
    from spinenet_lite.keras import keras, tf
    from spinenet_lite.models.registry import create_model

    keras.utils.set_random_seed(seed)
    model = create_model(MODEL, num_classes=NUM_CLASSES, input_size=INPUT_SIZE)
    # Untrained BN statistics (mean 0, var 1) let activations fade to ~1e-8 by the head, so every location
    # would predict the same thing. One training-mode pass with momentum 0 sets the statistics from real data.
    batch = np.stack([letterboxed(calibration_image, INPUT_SIZE)[0] for calibration_image in calibration])
    for bn in (lyr for lyr in model.submodules if isinstance(lyr, keras.layers.BatchNormalization)):
        bn.momentum = 0.0
    model(batch, training=True)
    # Calibrated activations now span 1e-3..1e6 across levels; a signed log squashes them into ranges a trained
    # detector produces (|t| < ~1.5 for boxes, logits around CLASS_LOGIT_OFFSET) without creating ties.
    def squash(x, gain, offset):
        return gain * tf.sign(x) * tf.math.log(1.0 + tf.abs(x)) + offset

    out = model(model.input, training=False)
    boxes = keras.layers.Lambda(lambda x: squash(x, BOX_GAIN, 0.0), name="box_encodings")(out["box_encodings"])
    logits = keras.layers.Lambda(lambda x: squash(x, CLASS_GAIN, CLASS_LOGIT_OFFSET),
                                 name="class_logits")(out["class_logits"])
    model = keras.Model(model.input, {"box_encodings": boxes, "class_logits": logits})
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return converter.convert()


def run_tflite(model_bytes: bytes, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(box_encodings [N, 4], class_logits [N, C]) of one letterboxed image, told apart by their last dim."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model_bytes, num_threads=1)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], batch)
    interp.invoke()
    outs = [interp.get_tensor(d["index"])[0] for d in interp.get_output_details()]
    boxes = next(o for o in outs if o.shape[-1] == 4)
    logits = next(o for o in outs if o.shape[-1] == NUM_CLASSES)
    return boxes.astype("<f4"), logits.astype("<f4")


def write_golden(out_dir: Path, images_dir: Path) -> dict:
    """Export, run, post-process and write everything into `out_dir`; returns the index written as golden.json."""
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.io import atomic_write_bytes, atomic_write_text
    from spinenet_lite.postprocess import postprocess
    from spinenet_lite.preprocess import load_image, unletterbox_boxes

    anchors = generate_anchors(INPUT_SIZE).astype("<f4")
    images = [load_image(images_dir / name) for name in IMAGE_NAMES]
    model_bytes = build_tflite(images)
    atomic_write_bytes(out_dir / "anchors.bin", anchors.tobytes())
    index = {
        "generator": "python android_demo/tools/make_golden.py",
        "model": MODEL, "input_size": INPUT_SIZE, "num_classes": NUM_CLASSES, "num_anchors": int(len(anchors)),
        "output_squash": {"box_gain": BOX_GAIN, "class_gain": CLASS_GAIN, "class_offset": CLASS_LOGIT_OFFSET,
                          "seed": SEED},
        "anchors": "anchors.bin", "settings": list(SETTINGS), "images": [],
    }
    for k, (name, image) in enumerate(zip(IMAGE_NAMES, images)):
        boxed, scale = letterboxed(image, INPUT_SIZE)
        enc, logits = run_tflite(model_bytes, boxed[None])
        atomic_write_bytes(out_dir / f"image{k}_box_encodings.bin", enc.tobytes())
        atomic_write_bytes(out_dir / f"image{k}_class_logits.bin", logits.tobytes())
        entry = {"name": name, "height": int(image.shape[0]), "width": int(image.shape[1]),
                 "scale": scale, "box_encodings": f"image{k}_box_encodings.bin",
                 "class_logits": f"image{k}_class_logits.bin", "detections": {}}
        for s in SETTINGS:
            kwargs = {key: val for key, val in s.items() if key != "name"}
            res = postprocess(enc[None], logits[None], anchors, **kwargs)
            n = int(np.asarray(res["num_detections"])[0])
            boxes = np.asarray(res["boxes"])[0, :n]
            entry["detections"][s["name"]] = {
                "boxes": np.round(boxes.astype(np.float64), 7).tolist(),
                "scores": np.round(np.asarray(res["scores"])[0, :n].astype(np.float64), 7).tolist(),
                "classes": np.asarray(res["classes"])[0, :n].astype(int).tolist(),
                "boxes_image_xyxy": np.round(unletterbox_boxes(boxes, scale, INPUT_SIZE)
                                             .astype(np.float64), 4).tolist(),
            }
        index["images"].append(entry)
    atomic_write_text(out_dir / "golden.json", json.dumps(index, indent=1) + "\n")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for golden.json and the .bin files")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="folder holding the BCCD JPEGs")
    args = parser.parse_args(argv)
    index = write_golden(args.out, args.images)
    for img in index["images"]:
        counts = {k: len(v["scores"]) for k, v in img["detections"].items()}
        print(f"{img['name']}: detections {counts}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
