"""Training throughput (images/s) on this machine: float32, bfloat16, XLA and both, side by side, beside the
Model Garden's own training step at the same batch and input size.

    python benchmarks/train_throughput.py --config spinenet49xxs:256:16 --config spinenet49xs:384:8
Our step is the trainer's (`make_train_loop`: forward, focal + Huber loss, L2, SGD update), fed a few real batches
of the recipe's data held in memory, so the figure is the training step, not the input pipeline. The Model Garden
column runs `model_garden_train.py` in the Model Garden venv (`model_garden_env.sh`), skipped when it is missing.
Prints a Markdown table for docs/results.md.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click

MODES = {  # name: (precision, jit_compile)
    "float32": ("float32", False),
    "bfloat16": ("mixed_bfloat16", False),
    "XLA": ("float32", True),
    "bfloat16 + XLA": ("mixed_bfloat16", True),
}
# Our model name -> (Model Garden SpineNet-Mobile id, head filters), as in model_garden_build.py.
MODEL_GARDEN_IDS = {"spinenet49xxs": ("49XS", 24), "spinenet49xs": ("49S", 40)}
MODEL_GARDEN_PYTHON = Path.home() / ".cache" / "spinenet-lite" / "mg-venv" / "bin" / "python"


def time_ours(model: str, size: int, batch: int, precision: str, jit: bool, steps: int, recipe: str) -> dict:
    """images/s of our training step in one mode (each step one call, losses read every step)."""
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.config import load_recipe
    from spinenet_lite.data import load_dataset
    from spinenet_lite.data.pipeline import make_dataset
    from spinenet_lite.keras import keras, tf
    from spinenet_lite.targets import assign_targets
    from spinenet_lite.runs import build_model
    from spinenet_lite.train.precision import loss_scaled, precision_policy
    from spinenet_lite.train.step import make_train_loop

    r = load_recipe(recipe, [f"model.name={model}", f"model.input_size={size}", f"train.batch_size={batch}"])
    anchors = tf.constant(generate_anchors(size), tf.float32)
    data = load_dataset(r.data, "train")
    ds = make_dataset(data, size, batch, training=True, target_fn=lambda b, l: assign_targets(b, l, anchors),
                      seed=0, data_cfg=r.data).take(2).cache().repeat()
    keras.utils.set_random_seed(0)
    with precision_policy(precision):
        net = build_model(r, len(data.class_names), stochastic_depth=r.train.stochastic_depth)
    opt = loss_scaled(keras.optimizers.SGD(learning_rate=0.01, momentum=0.9), precision)
    t = r.train
    strategy = tf.distribute.get_strategy()
    run = make_train_loop(strategy, net, opt, dict(num_classes=len(data.class_names), alpha=t.focal_alpha,
                                                   gamma=t.focal_gamma, delta=t.huber_delta,
                                                   box_weight=t.box_loss_weight), t.weight_decay, jit_compile=jit)
    it = iter(strategy.experimental_distribute_dataset(ds))
    one = tf.constant(1, tf.int32)
    tic = time.perf_counter()
    float(run(it, one)["total"])
    warm = time.perf_counter() - tic
    tic = time.perf_counter()
    for _ in range(steps):
        loss = float(run(it, one)["total"])
    seconds = time.perf_counter() - tic
    return {"images_per_second": steps * batch / seconds, "ms_per_step": 1000 * seconds / steps,
            "first_step_seconds": warm, "loss_last": loss, "num_classes": len(data.class_names)}


def time_model_garden(model: str, size: int, batch: int, num_classes: int, steps: int, modes: str) -> list[dict]:
    """The Model Garden's training step in its own venv, one JSON row per mode ([] when unavailable)."""
    if model not in MODEL_GARDEN_IDS or not MODEL_GARDEN_PYTHON.is_file():
        return []
    model_id, head = MODEL_GARDEN_IDS[model]
    script = Path(__file__).with_name("model_garden_train.py")
    proc = subprocess.run([str(MODEL_GARDEN_PYTHON), str(script), "--model-id", model_id, "--size", str(size),
                           "--batch", str(batch), "--head-filters", str(head), "--num-classes", str(num_classes),
                           "--steps", str(steps), "--modes", modes],
                          capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    if proc.returncode != 0:
        click.echo(f"Model Garden step failed: {proc.stderr.strip().splitlines()[-1:]}", err=True)
        return []
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


@click.command()
@click.option("--config", "configs", multiple=True, default=("spinenet49xxs:256:16", "spinenet49xs:384:8"),
              show_default=True, help="MODEL:SIZE:BATCH to time (repeatable).")
@click.option("--modes", default=",".join(MODES), show_default=True, help="Comma-separated modes of ours.")
@click.option("--model-garden-modes", default="float32:0,mixed_bfloat16:0", show_default=True,
              help="precision:jit pairs for the Model Garden step ('' to skip it).")
@click.option("--steps", default=5, show_default=True, help="Timed steps per mode (after one tracing step).")
@click.option("--recipe", default="quickstart", show_default=True, help="Recipe whose data and loss settings are used.")
@click.option("--json-out", type=click.Path(dir_okay=False), default=None, help="Also write every row as JSON.")
def main(configs, modes: str, model_garden_modes: str, steps: int, recipe: str, json_out: str | None) -> None:
    """Time the training step of each MODEL:SIZE:BATCH in each mode, then the Model Garden's."""
    rows = []
    for config in configs:
        model, size, batch = config.split(":")
        size, batch = int(size), int(batch)
        num_classes = 0
        for mode in modes.split(","):
            precision, jit = MODES[mode]
            row = time_ours(model, size, batch, precision, jit, steps, recipe)
            num_classes = row["num_classes"]
            rows.append({"model": model, "size": size, "batch": batch, "step": "spinenet-lite", "mode": mode, **row})
            click.echo(json.dumps(rows[-1]), err=True)
        for row in time_model_garden(model, size, batch, num_classes, steps, model_garden_modes) if model_garden_modes else []:
            mode = {"float32": "float32", "mixed_bfloat16": "bfloat16"}.get(row["precision"], row["precision"])
            mode += " + XLA" if row["jit_compile"] else ""
            rows.append({"model": model, "size": size, "batch": batch, "step": "Model Garden", "mode": mode, **row})
            click.echo(json.dumps(rows[-1]), err=True)
    if json_out:
        Path(json_out).write_text(json.dumps(rows, indent=1))
    click.echo("| model | size | batch | step | mode | img/s | ms/step | first step (s) |")
    click.echo("|---|---|---|---|---|---|---|---|")
    for r in rows:
        click.echo(f"| {r['model']} | {r['size']} | {r['batch']} | {r['step']} | {r['mode']} | "
                   f"{r['images_per_second']:.1f} | {r['ms_per_step']:.0f} | {r['first_step_seconds']:.0f} |")
    click.echo(f"{os.cpu_count()} CPU cores; {steps} timed steps per row; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
