"""`spinenet-lite train RECIPE [--set key=value ...]`: a thin layer over `spinenet_lite.train.trainer.train`."""
from __future__ import annotations

from pathlib import Path

import click

from spinenet_lite.errors import SpineNetLiteError


@click.command("train")
@click.argument("recipe", required=False)
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a recipe field, e.g. --set train.epochs=5 (repeatable).")
@click.option("--name", default=None, help="Run folder name under --project (default: the recipe's file name).")
@click.option("--project", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="Folder that holds run folders.")
@click.option("--resume", "resume", default=None, type=click.Path(exists=True, file_okay=False),
              help="Continue the run in this folder from its last complete checkpoint (same steps, schedule, optimizer).")
@click.option("--strategy", default=None, type=click.Choice(["default", "mirrored", "multiworker", "tpu"]),
              help="tf.distribute strategy (overrides train.strategy).")
@click.option("--max-minutes", type=float, default=None,
              help="Stop after this many minutes of training, evaluate and save (overrides train.max_minutes).")
@click.option("--init", "init", default=None, type=click.Path(exists=True),
              help="Start from this run's weights (a run folder or its .weights.h5, e.g. from `spinenet-lite import`); "
                   "its model is used, the class predictor starts fresh when the classes differ.")
@click.option("--init-backbone-only", is_flag=True, help="With --init: copy the backbone only, the head starts fresh.")
@click.option("--exist-ok", is_flag=True, help="Train into an existing run folder from scratch.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar (logs only).")
def train(recipe, overrides, name, project, resume, strategy, max_minutes, init, init_backbone_only, exist_ok,
          no_progress) -> None:
    """Train a detector from RECIPE (a YAML path or a shipped name: 49xxs, 49xs, 49s, 49, quickstart).

    Writes runs/<name>/: checkpoints/, last.weights.h5, best.weights.h5 (by validation mAP), recipe.yaml,
    classes.txt, results.csv, results.png and tensorboard/.
    """
    from spinenet_lite.config import load_recipe, resolve_recipe_path

    if resume:
        if overrides or init:
            raise SpineNetLiteError("--set/--init: a resumed run keeps its recipe.yaml; drop them or start a new run")
        recipe_obj, run_dir = None, Path(resume)
    else:
        if not recipe:
            raise SpineNetLiteError("train: give a RECIPE (e.g. quickstart, 49xs or a .yaml path) or --resume RUN")
        if init_backbone_only and not init:
            raise SpineNetLiteError("--init-backbone-only: give --init RUN as well")
        if init:
            overrides = (*overrides, f"train.init={init}", f"train.init_backbone_only={bool(init_backbone_only)}")
        recipe_obj = load_recipe(recipe, overrides)
        run_dir = Path(project) / (name or resolve_recipe_path(recipe).stem)

    from spinenet_lite.train.report import print_summary
    from spinenet_lite.train.trainer import train as run_training

    result = run_training(recipe_obj, run_dir, resume=bool(resume), strategy=strategy, max_minutes=max_minutes,
                          progress=not no_progress, exist_ok=exist_ok)
    print_summary(result)
