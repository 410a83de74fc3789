"""The end-of-run summary: what was trained, how well, and which files to look at."""
from __future__ import annotations

import click

from spinenet_lite import runs


def summary_lines(result) -> list[str]:
    """Lines describing a TrainResult (best mAP, time, paths)."""
    run = result.run_dir
    lines = [
        f"run            {run}",
        f"epochs, steps  {result.epochs_done}, {result.steps_done}" + ("  (stopped by time budget)" if result.stopped_early else ""),
        f"train time     {result.seconds / 60:.1f} min",
    ]
    if result.last_metrics:
        lines.append(f"last val       AP {result.last_metrics['AP']:.1f}  AP50 {result.last_metrics['AP50']:.1f}")
    if result.best_ap >= 0:
        lines.append(f"best val       AP {result.best_ap:.1f}  AP50 {result.best_ap50:.1f}  -> {run / runs.BEST_WEIGHTS}")
    for label, name in (("curves", runs.RESULTS_PNG), ("per epoch", runs.RESULTS_CSV),
                        ("tensorboard", runs.TENSORBOARD_DIR), ("resume", runs.CHECKPOINT_DIR)):
        lines.append(f"{label:<14} {run / name}")
    return lines


def print_summary(result) -> None:
    click.echo("\n".join(summary_lines(result)))
