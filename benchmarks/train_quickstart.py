"""Quickstart figure: train the quickstart recipe end to end, report val AP and wall time as a docs/results.md row.

    python benchmarks/train_quickstart.py [--out runs/quickstart]
"""
from __future__ import annotations

import os
import time

import click


@click.command()
@click.option("--out", default="runs/quickstart", show_default=True, help="Run folder.")
@click.option("--set", "overrides", multiple=True, help="Recipe overrides, e.g. --set train.epochs=10.")
def main(out: str, overrides: tuple) -> None:
    """Run `spinenet-lite quickstart` through its Python API and print one Markdown row."""
    from spinenet_lite.quickstart import run_quickstart, summary

    tic = time.perf_counter()
    qs = run_quickstart(out, overrides=overrides, progress=False, extra_steps=False)
    wall = time.perf_counter() - tic
    click.echo(summary(qs))
    r, m = qs.recipe, qs.metrics
    click.echo("\n| recipe | model | input | epochs | val AP | val AP50 | train min | wall min | machine |")
    click.echo("|---|---|---|---|---|---|---|---|---|")
    click.echo(f"| quickstart | {r.model.name} | {r.model.input_size} | {qs.train.epochs_done} | {m['AP']:.1f} | "
               f"{m['AP50']:.1f} | {qs.train.seconds / 60:.1f} | {wall / 60:.1f} | {os.cpu_count()} shared CPU cores |")


if __name__ == "__main__":
    main()
