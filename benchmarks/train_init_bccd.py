"""Fine-tuning figure: BCCD trained from scratch vs from another run's weights (`train --init`), equal budget.

The init run stands in for COCO-trained weights (which cannot be downloaded here): a run trained on the embedded
synthetic dataset, e.g. `spinenet-lite train quickstart --set train.epochs=20 --name synth`. Its class list
(6 shapes) differs from BCCD's (3 cells), so the class predictor starts fresh; everything else is copied.

    python benchmarks/train_init_bccd.py --init runs/synth --epochs 6 --out runs/bccd_init
"""
from __future__ import annotations

from pathlib import Path

import click

BCCD = str(Path(__file__).resolve().parents[1] / "datasets" / "bccd")


@click.command()
@click.option("--init", "init", required=True, type=click.Path(exists=True), help="Run folder to start from.")
@click.option("--data", default=BCCD, show_default=True, help="BCCD folder (Pascal VOC layout).")
@click.option("--epochs", default=6, show_default=True, help="Epochs of both runs.")
@click.option("--input-size", default=256, show_default=True)
@click.option("--lr", default=0.08, show_default=True, help="Peak learning rate of both runs.")
@click.option("--out", default="runs/bccd_init", show_default=True, help="Folder for the two run folders.")
@click.option("--only", type=click.Choice(["scratch", "init"]), default=None, help="Run one of the two.")
def main(init: str, data: str, epochs: int, input_size: int, lr: float, out: str, only: str | None) -> None:
    """Train the init run's model on BCCD train twice (scratch, --init), evaluate on BCCD test, print rows."""
    from spinenet_lite.config import load_recipe
    from spinenet_lite.data import load_dataset
    from spinenet_lite.evaluate import evaluate, keras_detect_fn
    from spinenet_lite.runs import load_trained
    from spinenet_lite.train.init import init_recipe
    from spinenet_lite.train.trainer import train

    base = load_recipe("49xxs", [
        "data.format=voc", f"data.root={data}", "data.train=train", "data.val=val",
        "data.scale_min=0.75", "data.scale_max=1.25", f"model.input_size={input_size}",
        f"train.epochs={epochs}", "train.batch_size=8", f"train.learning_rate={lr}", "train.warmup_steps=50",
        "train.schedule=cosine", "train.strategy=default", f"train.eval_every={epochs}", "train.stochastic_depth=0.0",
        "train.freeze_bn_epochs=1",
    ])
    base = init_recipe(base, init)  # both runs train the init run's model; only the starting weights differ
    rows = []
    for kind in ("scratch", "init") if only is None else (only,):
        recipe = base
        if kind == "init":
            import dataclasses

            recipe = dataclasses.replace(base, train=dataclasses.replace(base.train, init=str(init)))
        run = Path(out) / kind
        result = train(recipe, run, progress=False, exist_ok=True)
        trained = load_trained(run)
        m = evaluate(keras_detect_fn(trained.model, input_size), load_dataset(trained.recipe.data, "test"),
                     input_size, progress=False)
        rows.append(f"| {kind} | {trained.recipe.model.name} | {input_size} | {result.epochs_done} | "
                    f"{result.seconds / 60:.1f} | {m['AP']:.1f} | {m['AP50']:.1f} |")
    click.echo("| start | model | input | epochs | train min | BCCD test AP | AP50 |")
    click.echo("|---|---|---|---|---|---|---|")
    for row in rows:
        click.echo(row)


if __name__ == "__main__":
    main()
