"""Build the TensorFlow Model Garden SpineNet-Mobile detectors as TFLite files (run inside the Model Garden venv).

Standalone on purpose: it imports `official` (tf-models-official, which pins its own TensorFlow) and nothing from
spinenet_lite. It builds the `retinanet_mobile_coco` experiment through the Model Garden's own factory
(`official.vision.modeling.factory.build_retinanet`) with the backbone model id, head width and input size changed,
wraps backbone -> decoder -> head as a graph with the same contract as ours (0..255 input normalised inside,
outputs `box_encodings` [1, N, 4] and `class_logits` [1, N, C], no NMS) and converts it with the same
TFLiteConverter settings the harness uses for our models. `spinenet-lite benchmark --model-garden` times the files.

Usage (normally through model_garden_env.sh): python model_garden_build.py --out DIR [--num-classes 80]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# Model Garden model id, the paper name it corresponds to, input size, head filters (its SCALING_MAP endpoints).
MODELS = (
    ("49XS", "spinenet49xxs", 256, 24),
    ("49S", "spinenet49xs", 384, 40),
)
MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STDDEV_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)


def mobile_config(model_id: str, input_size: int, head_filters: int, num_classes: int):
    """The Model Garden's `retinanet_mobile_coco` experiment with the backbone id, head width, classes and input
    size set (no sync batch norm)."""
    from official.core import exp_factory
    from official.vision.configs import retinanet  # noqa: F401  (registers the retinanet experiments)

    config = exp_factory.get_exp_config("retinanet_mobile_coco")
    model_cfg = config.task.model
    model_cfg.backbone.spinenet_mobile.model_id = model_id
    model_cfg.head.num_filters = head_filters
    model_cfg.num_classes = num_classes
    model_cfg.input_size = [input_size, input_size, 3]
    model_cfg.norm_activation.use_sync_bn = False
    return config


def build(model_id: str, input_size: int, head_filters: int, num_classes: int):
    """The Model Garden RetinaNet (SpineNet-Mobile backbone, identity decoder, separable head) as raw outputs."""
    import tensorflow as tf
    import tf_keras
    from official.vision.modeling import factory

    model_cfg = mobile_config(model_id, input_size, head_filters, num_classes).task.model
    input_specs = tf_keras.layers.InputSpec(shape=[None, input_size, input_size, 3])
    retinanet = factory.build_retinanet(input_specs, model_cfg)

    image = tf_keras.Input((input_size, input_size, 3), batch_size=1, name="image")
    x = (image - tf.constant(MEAN_RGB)) / tf.constant(STDDEV_RGB)
    features = retinanet.backbone(x)
    if retinanet.decoder is not None:  # the identity decoder is built as None
        features = retinanet.decoder(features)
    scores, boxes = retinanet.head(features)[:2]
    levels = sorted(scores, key=int)
    logits = [tf.reshape(scores[k], [1, -1, num_classes]) for k in levels]
    encodings = [tf.reshape(boxes[k], [1, -1, 4]) for k in levels]
    outputs = {"box_encodings": tf.concat(encodings, axis=1), "class_logits": tf.concat(logits, axis=1)}
    return tf_keras.Model(image, outputs, name=f"model_garden_{model_id}_{input_size}")


def convert(model, precision: str, input_size: int, calibration_steps: int = 8) -> bytes:
    """TFLite bytes: fp32, fp16 weights, or full int8 with uint8 input (random 0..255 calibration images)."""
    import numpy as np
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        rng = np.random.default_rng(0)

        def representative():
            for _ in range(calibration_steps):
                yield [rng.uniform(0, 255, (1, input_size, input_size, 3)).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
    return converter.convert()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the .tflite files and manifest.json")
    parser.add_argument("--num-classes", type=int, default=80, help="classes of the head (ours default to 80)")
    parser.add_argument("--precisions", default="fp32,fp16,int8", help="comma-separated TFLite precisions")
    parser.add_argument("--rebuild", action="store_true", help="convert again even where the file exists")
    args = parser.parse_args(argv)
    import tensorflow as tf

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"tensorflow": tf.__version__, "num_classes": args.num_classes, "models": []}
    for model_id, ours, size, head in MODELS:
        model = build(model_id, size, head, args.num_classes)
        entry = {"model_garden_id": model_id, "ours": ours, "input_size": size, "head_filters": head,
                 "params": int(model.count_params()), "files": {}}
        for precision in args.precisions.split(","):
            path = out / f"mg_{model_id}_{size}_{precision}.tflite"
            if args.rebuild or not path.is_file():  # a conversion takes minutes: an interrupted build resumes
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(convert(model, precision, size))
                os.replace(tmp, path)
            entry["files"][f"tflite-{precision}"] = path.name
            print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", flush=True)
            _write_manifest(out, manifest, entry)  # after every file, so a partial build is already usable
    return 0


def _write_manifest(out: Path, manifest: dict, entry: dict) -> None:
    models = [m for m in manifest["models"] if m["model_garden_id"] != entry["model_garden_id"]] + [entry]
    manifest["models"] = models
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, out / "manifest.json")


if __name__ == "__main__":
    sys.exit(main())
