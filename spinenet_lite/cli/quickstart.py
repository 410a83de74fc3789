"""`spinenet-lite quickstart`: train, evaluate and summarise on the embedded dataset (the README's first command)."""
from __future__ import annotations

import click


@click.command("quickstart")
@click.option("--out", default="runs/quickstart", show_default=True, type=click.Path(file_okay=False),
              help="Run folder to write (an earlier quickstart run there is replaced).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a quickstart recipe field, e.g. --set train.epochs=2 (repeatable).")
@click.option("--resume", is_flag=True, help="Continue an interrupted quickstart run in --out.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def quickstart(out, overrides, resume, no_progress) -> None:
    """Train the quickstart recipe on the embedded synthetic dataset, evaluate it and print a summary."""
    from spinenet_lite.quickstart import run_quickstart, summary

    result = run_quickstart(out, overrides=overrides, progress=not no_progress, resume=resume)
    click.echo(summary(result))
