"""Training throughput (images/s) of a model on this machine: real data pipeline, real train step.

    python benchmarks/train_throughput.py --model spinenet49xs --size 384 --batch 8
Prints a Markdown row for docs/results.md.
"""
from __future__ import annotations

import os
import time

import click


@click.command()
@click.option("--model", default="spinenet49xs", show_default=True, help="Registered model name.")
@click.option("--size", default=384, show_default=True, help="Input size (pixels).")
@click.option("--batch", default=8, show_default=True, help="Batch size.")
@click.option("--steps", default=10, show_default=True, help="Timed steps (after 2 warm-up steps).")
@click.option("--recipe", default="quickstart", show_default=True, help="Recipe whose data and loss settings are used.")
def main(model: str, size: int, batch: int, steps: int, recipe: str) -> None:
    """Time the training step of MODEL at SIZE with BATCH images per step."""
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.config import load_recipe
    from spinenet_lite.data import load_dataset
    from spinenet_lite.data.pipeline import make_dataset
    from spinenet_lite.keras import keras, tf
    from spinenet_lite.targets import assign_targets
    from spinenet_lite.runs import build_model
    from spinenet_lite.train.step import make_train_step

    r = load_recipe(recipe, [f"model.name={model}", f"model.input_size={size}", f"train.batch_size={batch}"])
    anchors = tf.constant(generate_anchors(size), tf.float32)
    data = load_dataset(r.data, "train")
    ds = make_dataset(data, size, batch, training=True, target_fn=lambda b, l: assign_targets(b, l, anchors),
                      seed=0, data_cfg=r.data).repeat()
    net = build_model(r, len(data.class_names), stochastic_depth=r.train.stochastic_depth)
    opt = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    t = r.train
    step = make_train_step(tf.distribute.get_strategy(), net, opt,
                           dict(num_classes=len(data.class_names), alpha=t.focal_alpha, gamma=t.focal_gamma,
                                delta=t.huber_delta, box_weight=t.box_loss_weight), t.weight_decay)
    it = iter(ds)
    tic = time.perf_counter()
    for _ in range(2):
        step(next(it))
    warm = time.perf_counter() - tic
    tic = time.perf_counter()
    for _ in range(steps):
        float(step(next(it))["total"])
    seconds = time.perf_counter() - tic
    rate = steps * batch / seconds
    click.echo(f"| {model} | {size} | {batch} | {rate:.1f} img/s | {1000 * seconds / steps:.0f} ms/step | "
               f"{os.cpu_count()} CPU cores (shared) | first 2 steps incl. tracing {warm:.0f} s |")


if __name__ == "__main__":
    main()
