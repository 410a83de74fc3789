"""Time the TensorFlow Model Garden's own RetinaNet training step (run inside the Model Garden venv).

Standalone on purpose: it imports `official` (tf-models-official, which pins its own TensorFlow) and nothing from
spinenet_lite. The model is the `retinanet_mobile_coco` experiment built by the Model Garden's task
(`RetinaNetTask.build_model`, backbone model id, head width and input size as `model_garden_build.py` sets them),
trained by the task's own `train_step` under `tf.function`, with SGD (momentum 0.9). Labels come from the Model
Garden's own anchor labeler on a few fixed boxes per image; the batch is built once and fed every step, so the
figure is the training step alone. Prints one JSON object per mode.

Usage: python model_garden_train.py --model-id 49XS --size 256 --batch 16 --head-filters 24 --num-classes 3
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def make_batch(task_cfg, size: int, batch: int, num_classes: int, boxes_per_image: int = 7):
    """(images, labels) in the layout the task's train_step reads, from the Model Garden's anchor labeler."""
    import numpy as np
    import tensorflow as tf
    from official.vision.ops import anchor

    model_cfg = task_cfg.model
    anchors = anchor.Anchor(model_cfg.min_level, model_cfg.max_level, model_cfg.anchor.num_scales,
                            model_cfg.anchor.aspect_ratios, model_cfg.anchor.anchor_size, (size, size))
    labeler = anchor.AnchorLabeler(match_threshold=0.5, unmatched_threshold=0.5)
    rng = np.random.default_rng(0)
    per_image = []
    for _ in range(batch):
        yx = rng.uniform(0, 0.7 * size, (boxes_per_image, 2))
        hw = rng.uniform(0.05 * size, 0.3 * size, (boxes_per_image, 2))
        boxes = tf.constant(np.concatenate([yx, yx + hw], axis=1), tf.float32)
        labels = tf.constant(rng.integers(0, num_classes, (boxes_per_image, 1)), tf.int32)
        cls_t, box_t, _, cls_w, box_w = labeler.label_anchors(anchors.multilevel_boxes, boxes, labels)
        per_image.append({"cls_targets": cls_t, "box_targets": box_t, "cls_weights": cls_w, "box_weights": box_w})
    labels = tf.nest.map_structure(lambda *xs: tf.stack(xs), *per_image)
    images = tf.constant(rng.uniform(-2, 2, (batch, size, size, 3)), tf.float32)  # already normalised
    return images, labels


def time_mode(model_id: str, size: int, batch: int, head_filters: int, num_classes: int, precision: str,
              jit: bool, steps: int) -> dict:
    import tensorflow as tf
    import tf_keras
    from model_garden_build import mobile_config  # beside this script
    from official.vision.tasks.retinanet import RetinaNetTask

    config = mobile_config(model_id, size, head_filters, num_classes)
    tf_keras.mixed_precision.set_global_policy(precision)
    task = RetinaNetTask(config.task)
    model = task.build_model()
    tf_keras.mixed_precision.set_global_policy("float32")
    optimizer = tf_keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    if precision == "mixed_float16":
        optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
    inputs = make_batch(config.task, size, batch, num_classes)

    @tf.function(jit_compile=jit)
    def step(images, labels):
        return task.train_step((images, labels), model, optimizer)

    tic = time.perf_counter()
    first = float(step(*inputs)[task.loss])
    warm = time.perf_counter() - tic
    tic = time.perf_counter()
    for _ in range(steps):
        loss = float(step(*inputs)[task.loss])
    seconds = time.perf_counter() - tic
    return {"model_garden_id": model_id, "size": size, "batch": batch, "precision": precision, "jit_compile": jit,
            "images_per_second": steps * batch / seconds, "ms_per_step": 1000 * seconds / steps,
            "first_step_seconds": warm, "loss_first": first, "loss_last": loss, "tensorflow": tf.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-id", required=True, help="Model Garden SpineNet-Mobile id: 49XS (ours 49xxs), 49S (49xs)")
    parser.add_argument("--size", type=int, required=True, help="input size (pixels)")
    parser.add_argument("--batch", type=int, required=True, help="images per step")
    parser.add_argument("--head-filters", type=int, required=True, help="head width (24 for 49XS, 40 for 49S)")
    parser.add_argument("--num-classes", type=int, default=3, help="classes of the head")
    parser.add_argument("--steps", type=int, default=5, help="timed steps after the first (tracing) one")
    parser.add_argument("--modes", default="float32:0,mixed_bfloat16:0",
                        help="comma-separated precision:jit pairs, e.g. float32:0,mixed_bfloat16:1")
    args = parser.parse_args()
    for mode in args.modes.split(","):
        precision, jit = mode.split(":")
        print(json.dumps(time_mode(args.model_id, args.size, args.batch, args.head_filters, args.num_classes,
                                   precision, jit == "1", args.steps)), flush=True)


if __name__ == "__main__":
    main()
