"""Model Garden RetinaNet checkpoints with random weights and their raw outputs (run inside the Model Garden venv).

Standalone on purpose, like model_garden_build.py: it imports `official` (tf-models-official, which pins its own
TensorFlow) and nothing from spinenet_lite. For each configuration it builds the Model Garden RetinaNet through
the Model Garden's own factory (`retinanet_mobile_coco` / `retinanet_spinenet_coco` experiments, 91 classes),
gives every variable random non-trivial values (batch-norm moving statistics too), saves
`tf.train.Checkpoint(model=...)` the way the Model Garden's trainer does, and runs the model on the letterboxed
images in `--images` (0..255, made by spinenet-lite's own pre-processing; see model_garden_exactness.py), after
the Model Garden's input normalisation `(x - mean) / std` with its ImageNet mean/std on the 0..255 scale.

Writes OUT/<config>/ckpt-1.{index,data-*}, OUT/<config>/outputs.npz (per level: `class_<l>` [B, H, W, A*C],
`box_<l>` [B, H, W, A*4], the raw head outputs) and OUT/<config>/meta.json.

Usage: python model_garden_reference.py --images inputs.npz --out DIR [--configs 49XS@256,49S@384,49@384,full49@640]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# config name -> (experiment, backbone type, model id, input size, head filters or None for the default 256)
CONFIGS = {
    "49XS@256": ("retinanet_mobile_coco", "spinenet_mobile", "49XS", 256, 24),
    "49S@384": ("retinanet_mobile_coco", "spinenet_mobile", "49S", 384, 40),
    "49@384": ("retinanet_mobile_coco", "spinenet_mobile", "49", 384, 48),
    "full49@640": ("retinanet_spinenet_coco", "spinenet", "49", 640, None),
}
MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STDDEV_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)


def build(config: str, num_classes: int):
    """The Model Garden RetinaNet model of `config`, built by its factory (sync BN off: one CPU replica)."""
    import tf_keras
    from official.core import exp_factory
    from official.vision.modeling import factory

    experiment, backbone, model_id, size, head_filters = CONFIGS[config]
    exp = exp_factory.get_exp_config(experiment)
    model_cfg = exp.task.model
    getattr(model_cfg.backbone, backbone).model_id = model_id
    if head_filters is not None:
        model_cfg.head.num_filters = head_filters
    model_cfg.num_classes = num_classes
    model_cfg.input_size = [size, size, 3]
    model_cfg.norm_activation.use_sync_bn = False
    input_specs = tf_keras.layers.InputSpec(shape=[None, size, size, 3])
    return factory.build_retinanet(input_specs, model_cfg), size


def randomize(model, seed: int) -> None:
    """Random non-trivial values for every variable: kernels keep their initializer's scale times a random factor,
    biases and BN offsets are drawn around zero, BN scales and moving variances around one, moving means around
    zero, so nothing is the identity and every term of the imported function is exercised."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for var in model.variables:
        name, shape = var.name, var.shape.as_list()
        if "moving_variance" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "moving_mean" in name:
            value = rng.normal(0.0, 0.2, shape)
        elif "gamma" in name:
            value = rng.uniform(0.6, 1.4, shape)
        elif "beta" in name or "bias" in name:
            value = rng.normal(0.0, 0.2, shape)
        else:  # kernels: a random variance-scaling draw, fan-in from all but the last axis (depthwise: the window)
            fan_in = int(np.prod(shape[:-1])) if "depthwise" not in name else int(np.prod(shape[:2]))
            value = rng.normal(0.0, 1.0, shape) * np.sqrt(1.0 / max(1, fan_in))
        var.assign(value.astype(np.float32))


def raw_outputs(model, images):
    """Per-level raw head outputs on 0..255 images, after the Model Garden's input normalisation."""
    import tensorflow as tf

    x = (tf.constant(images, tf.float32) - tf.constant(MEAN_RGB)) / tf.constant(STDDEV_RGB)
    features = model.backbone(x, training=False)
    if model.decoder is not None:
        features = model.decoder(features, training=False)
    scores, boxes = model.head(features, training=False)[:2]
    out = {}
    for level in sorted(scores, key=int):
        out[f"class_{level}"] = scores[level].numpy()
        out[f"box_{level}"] = boxes[level].numpy()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, help="npz with one array per input size, `images_<size>` [B, S, S, 3]")
    parser.add_argument("--out", required=True, help="folder for one sub-folder per configuration")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {', '.join(CONFIGS)}")
    parser.add_argument("--num-classes", type=int, default=91, help="classes of the head (the Model Garden's COCO: 91)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import numpy as np
    import tensorflow as tf

    images = np.load(args.images)
    for config in args.configs.split(","):
        model, size = build(config, args.num_classes)
        raw_outputs(model, images[f"images_{size}"][:1])  # builds the head's variables
        randomize(model, args.seed)
        folder = Path(args.out) / config
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("ckpt-*"):
            old.unlink()
        # The Model Garden trainer checkpoints `tf.train.Checkpoint(global_step=..., model=..., optimizer=...)`;
        # the importer reads the `model` branch, so the optimizer is left out here.
        step = tf.Variable(1, dtype=tf.int64)
        path = tf.train.Checkpoint(global_step=step, model=model).write(str(folder / "ckpt-1"))
        outputs = raw_outputs(model, images[f"images_{size}"])
        np.savez(folder / "outputs.npz", **outputs)
        meta = {"config": config, "experiment": CONFIGS[config][0], "model_id": CONFIGS[config][2],
                "input_size": size, "num_classes": args.num_classes, "seed": args.seed, "checkpoint": Path(path).name,
                "tensorflow": tf.__version__, "params": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
                "max_abs_output": float(max(np.abs(v).max() for v in outputs.values()))}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2))
        print(json.dumps(meta), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
