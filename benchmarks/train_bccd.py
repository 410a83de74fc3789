"""BCCD figure: `recipes/bccd.yaml` (spinenet49xs at 384 from scratch on the train split) for at most 60 CPU
minutes, evaluated on the test split. Run it in the background, it needs the machine for an hour:

    nohup python benchmarks/train_bccd.py --minutes 60 > bccd.log 2>&1 &
"""
from __future__ import annotations

import time
from pathlib import Path

import click



@click.command()
@click.option("--data", default=None, help="BCCD folder (Pascal VOC layout); default: the recipe's datasets/bccd.")
@click.option("--minutes", default=60.0, show_default=True, help="Training time budget (train.max_minutes).")
@click.option("--epochs", type=int, default=None,
              help="Epochs the cosine schedule is laid out for (default: the recipe's 60; the budget re-fits it).")
@click.option("--lr", type=float, default=None, help="Peak learning rate (default: the recipe's 0.08).")
@click.option("--out", default="runs/bccd_49xs", show_default=True, help="Run folder.")
@click.option("--resume", is_flag=True, help="Continue the run in --out.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Further recipe overrides, e.g. model.activation=relu (repeatable).")
def main(data: str | None, minutes: float, epochs: int | None, lr: float | None, out: str, resume: bool,
         overrides: tuple) -> None:
    """Train recipes/bccd.yaml on BCCD train, evaluate best weights on BCCD test, print a Markdown row."""
    from spinenet_lite.config import load_recipe
    from spinenet_lite.data import load_dataset
    from spinenet_lite.evaluate import evaluate
    from spinenet_lite.runs import load_trained
    from spinenet_lite.runtimes.keras import keras_detect_fn
    from spinenet_lite.train.trainer import train

    given = [f"data.root={data}" if data else "", f"train.epochs={epochs}" if epochs else "",
             f"train.learning_rate={lr}" if lr else ""]
    recipe = load_recipe("bccd", [o for o in given if o] + [f"train.max_minutes={minutes}", *overrides])
    tic = time.perf_counter()
    result = train(None if resume else recipe, Path(out), resume=resume, progress=False, exist_ok=True)
    trained = load_trained(out)
    test = load_dataset(trained.recipe.data, "test")
    size = trained.recipe.model.input_size
    m = evaluate(keras_detect_fn(trained.model, size), test, size, progress=False)
    wall = time.perf_counter() - tic
    click.echo("| data | model | input | epochs | train min | test AP | test AP50 | wall min |")
    click.echo("|---|---|---|---|---|---|---|---|")
    acts = trained.recipe.model.activation + (f", {trained.recipe.model.early_activation} early"
                                              if trained.recipe.model.early_activation else "")
    click.echo(f"| BCCD (train -> test) | spinenet49xs ({acts}) | {size} | {result.epochs_done} "
               f"| {result.seconds / 60:.0f} | {m['AP']:.1f} | {m['AP50']:.1f} | {wall / 60:.0f} |")


if __name__ == "__main__":
    main()
