"""Quantization figure: AP of float Keras, TFLite fp16, PTQ int8 and QAT int8 side by side on trained runs.

Each artifact is exported by `spinenet_lite.export.api.export` (the shipped path: detection op + metadata) and
evaluated by the parity gate (the training evaluator, validation split). QAT int8 comes from `RUN/qat/`, written
by `spinenet_lite.qat.qat` when missing. Target: QAT int8 within 1.0 AP of float.

    python benchmarks/quantization.py runs/quickstart [runs/bccd_49xs] [--qat-epochs 2] [--set train.qat_learning_rate=0.002]
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from spinenet_lite.runs import QAT_DIR, QAT_WEIGHTS, RECIPE_FILE

QAT_TARGET = 1.0  # AP points


def artifacts_for(run: Path, qat_epochs: int | None, redo: bool, overrides: tuple = ()) -> tuple[dict, float]:
    """Export fp16 and PTQ int8 from the float run and int8 from its QAT folder (training QAT if needed)."""
    from spinenet_lite.export.api import export
    from spinenet_lite.qat import qat

    out = run / "quantization"
    artifacts, qat_minutes = {}, 0.0
    for precision, label in (("fp16", "tflite-fp16"), ("int8", "tflite-int8 PTQ")):
        folder = out / precision
        if redo or not (folder / f"model_{precision}.tflite").is_file():
            export(run, ["tflite"], precision=precision, out=folder, overwrite=True, gate=False)
        artifacts[label] = folder / f"model_{precision}.tflite"
    qat_dir = run / QAT_DIR
    if redo or not (qat_dir / QAT_WEIGHTS).is_file():
        tic = time.perf_counter()
        qat(None, run, out=qat_dir, epochs=qat_epochs, overrides=overrides, overwrite=True, progress=False)
        qat_minutes = (time.perf_counter() - tic) / 60
    folder = out / "qat_int8"
    if redo or not (folder / "model_int8.tflite").is_file():
        export(qat_dir, ["tflite"], precision="int8", out=folder, overwrite=True, gate=False)
    artifacts["tflite-int8 QAT"] = folder / "model_int8.tflite"
    return artifacts, qat_minutes


def measure(run: Path, qat_epochs: int | None, redo: bool, threads: int, overrides: tuple = ()) -> list[dict]:
    """Parity rows (float reference first) for one run, plus the QAT Keras model's own AP."""
    from spinenet_lite.data import load_dataset
    from spinenet_lite.evaluate import evaluate
    from spinenet_lite.export.parity import parity_gate
    from spinenet_lite.runs import load_qat, load_trained
    from spinenet_lite.runtimes.keras import recipe_detect_fn

    artifacts, qat_minutes = artifacts_for(run, qat_epochs, redo, overrides)
    trained = load_trained(run)
    recipe, size = trained.recipe, trained.input_size
    val = load_dataset(recipe.data, "val")
    rows = parity_gate(trained.detect_fn(), {k: str(v) for k, v in artifacts.items()}, val, size, threads=threads)
    qat_keras = evaluate(recipe_detect_fn(load_qat(run / QAT_DIR).model, recipe), val, size, batch_size=8)
    out = [{"run": str(run), "model": recipe.model.name, "input": size, "format": r.label, "AP": r.ap,
            "AP50": r.ap50, "dAP": r.delta, "MB": r.size_bytes / 1e6, "ms": r.latency_ms} for r in rows]
    ap = max(float(qat_keras["AP"]), 0.0)
    out.insert(1, {"run": str(run), "model": recipe.model.name, "input": size, "format": "keras QAT (fake-quant)",
                   "AP": ap, "AP50": max(float(qat_keras["AP50"]), 0.0), "dAP": ap - rows[0].ap, "MB": 0.0,
                   "ms": 0.0, "qat_minutes": qat_minutes})
    return out


def markdown(rows: list[dict]) -> str:
    lines = ["| run | model @ px | format | AP | AP50 | dAP vs float | size MB | ms/img (1 thr) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        size = f"{r['MB']:.2f}" if r["MB"] else "-"
        ms = f"{r['ms']:.1f}" if r["ms"] else "-"
        lines.append(f"| {Path(r['run']).name} | {r['model']} @ {r['input']} | {r['format']} | {r['AP']:.2f} | "
                     f"{r['AP50']:.2f} | {r['dAP']:+.2f} | {size} | {ms} |")
    return "\n".join(lines)


@click.command()
@click.argument("runs", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override the run's recipe for QAT, e.g. --set train.qat_learning_rate=0.001 (repeatable).")
@click.option("--qat-epochs", type=int, default=None, help="QAT epochs (default: each recipe's train.qat_epochs).")
@click.option("--redo", is_flag=True, help="Re-export and re-train QAT even when the files exist.")
@click.option("--threads", type=int, default=1, show_default=True, help="TFLite threads for evaluation.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the rows here.")
def main(runs: tuple, overrides: tuple, qat_epochs: int | None, redo: bool, threads: int, json_path: str | None) -> None:
    """AP of float / fp16 / PTQ int8 / QAT int8 per run, as Markdown rows (default: runs/quickstart + runs/bccd*)."""
    paths = [Path(r) for r in runs] or [p for p in [Path("runs/quickstart"), *sorted(Path("runs").glob("bccd*"))]
                                        if (p / RECIPE_FILE).is_file()]
    if not paths:
        raise click.UsageError("no trained run: pass RUNS or train one with `spinenet-lite quickstart`")
    rows = []
    for run in paths:
        rows += measure(run, qat_epochs, redo, threads, tuple(overrides))
    click.echo(markdown(rows))
    for run in paths:
        got = {r["format"]: r for r in rows if r["run"] == str(run)}
        drop = -got["tflite-int8 QAT"]["dAP"]
        verdict = "met" if drop <= QAT_TARGET else "NOT met"
        click.echo(f"{run}: QAT int8 vs float {-drop:+.2f} AP (target: no more than {QAT_TARGET:.1f} below): {verdict}")
    if json_path:
        from spinenet_lite.io import atomic_write_text

        atomic_write_text(json_path, json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
