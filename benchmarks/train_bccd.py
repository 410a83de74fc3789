"""BCCD figure: spinenet49xs at 384 trained from scratch on the train split for at most 60 CPU minutes,
evaluated on the test split. Run it in the background, it needs the machine for an hour:

    nohup python benchmarks/train_bccd.py --minutes 60 > bccd.log 2>&1 &
"""
from __future__ import annotations

import time
from pathlib import Path

import click

BCCD = str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bccd")  # ../shared beside the project


@click.command()
@click.option("--data", default=BCCD, show_default=True, help="BCCD folder (Pascal VOC layout).")
@click.option("--minutes", default=60.0, show_default=True, help="Training time budget (train.max_minutes).")
@click.option("--epochs", default=20, show_default=True,
              help="Epochs the cosine schedule is laid out for; pick what fits the budget at the measured img/s.")
@click.option("--lr", default=0.08, show_default=True,
              help="Peak learning rate (0.04 learnt visibly slower in short from-scratch runs).")
@click.option("--out", default="runs/bccd_49xs", show_default=True, help="Run folder.")
@click.option("--resume", is_flag=True, help="Continue the run in --out.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Further recipe overrides, e.g. model.activation=relu (repeatable).")
def main(data: str, minutes: float, epochs: int, lr: float, out: str, resume: bool, overrides: tuple) -> None:
    """Train spinenet49xs@384 on BCCD train, evaluate best weights on BCCD test, print a Markdown row."""
    from spinenet_lite.config import load_recipe
    from spinenet_lite.data import load_dataset
    from spinenet_lite.evaluate import evaluate, keras_detect_fn
    from spinenet_lite.runs import load_trained
    from spinenet_lite.train.trainer import train

    recipe = load_recipe("49xs", [
        "data.format=voc", f"data.root={data}", "data.train=train", "data.val=val",
        "data.scale_min=0.75", "data.scale_max=1.25",
        f"train.epochs={epochs}", "train.batch_size=8", f"train.learning_rate={lr}", "train.warmup_steps=100",
        "train.schedule=cosine", "train.strategy=default", "train.eval_every=5", "train.stochastic_depth=0.1",
        f"train.max_minutes={minutes}", *overrides,
    ])
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
