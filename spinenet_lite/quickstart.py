"""The README's first command as a Python API: train the quickstart recipe on the embedded dataset, evaluate
the best checkpoint, draw predictions, export int8 with its parity table, and summarise. `run_quickstart` is what
`spinenet-lite quickstart` calls. The model training built stays in memory and is handed from step to step:
no step rebuilds it, re-traces its detect function or re-evaluates it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from spinenet_lite import runs

RECIPE = "quickstart"
DEFAULT_OUT = Path("runs/quickstart")


@dataclass
class QuickstartResult:
    """Everything the quickstart produced; the export step adds its lines."""

    run_dir: Path
    recipe: object  # config.Recipe
    train: object  # trainer.TrainResult
    metrics: dict  # COCO metrics of best.weights.h5 on the validation split
    num_train: int
    num_val: int
    seconds: float
    predictions: Path | None = None
    lines: list[str] = field(default_factory=list)
    progress: bool = True
    trained: runs.Trained | None = None  # the trained model at its best weights (None: export loads run_dir)
    qat: object = None  # qat.QATResult when PTQ failed its gate and QAT replaced it


def export_int8(qs: QuickstartResult) -> list[str]:
    """int8 TFLite with metadata by post-training quantization, then the parity table on the validation split.

    The gate's float reference is `qs.metrics`, the evaluation of the same weights on the same split. QAT does
    not fit the quickstart's time budget, so it runs only when the PTQ model fails its parity gate:
    `train.qat_epochs` of quantization-aware fine-tuning into `RUN/qat/`, whose int8 export replaces the PTQ one.
    """
    from spinenet_lite.export.api import export
    from spinenet_lite.export.parity import format_table

    result = export(qs.trained or qs.run_dir, ["tflite"], precision="int8", overwrite=True,
                    reference_metrics=qs.metrics or None)
    lines = ["  export      int8 TFLite + metadata, post-training quantization",
             f"    model         {result.artifacts['tflite-int8']}", "  parity (validation split)",
             *(f"    {line}" for line in format_table(result.rows).splitlines())]
    if all(row.passed for row in result.rows):
        return lines
    from spinenet_lite.qat import qat

    epochs = qs.recipe.train.qat_epochs
    print(f"PTQ int8 failed its parity gate; quantization-aware fine-tuning for {epochs} epochs into "
          f"{qs.run_dir / runs.QAT_DIR}", flush=True)
    tuned = qs.qat = qat(None, qs.trained or qs.run_dir, out=qs.run_dir / runs.QAT_DIR, overwrite=True,
                         progress=qs.progress)
    # QAT starts from best.weights.h5, the weights `qs.metrics` evaluated: still the gate's reference.
    result = export(tuned.trained, ["tflite"], precision="int8", out=qs.run_dir / runs.EXPORT_DIR, overwrite=True,
                    reference_metrics=qs.metrics or None)
    return lines + [f"  QAT         PTQ failed its gate, so {epochs} epochs of quantization-aware training "
                    f"({qs.run_dir / runs.QAT_DIR}) replaced it",
                    f"    model         {result.artifacts['tflite-int8']}",
                    *(f"    {line}" for line in format_table(result.rows).splitlines())]


def run_quickstart(
    out: str | Path = DEFAULT_OUT, overrides: tuple[str, ...] = (), progress: bool = True,
    resume: bool = False, extra_steps: bool = True,
) -> QuickstartResult:
    """Train `recipes/quickstart.yaml` into `out` (replacing an earlier quickstart run), evaluate, predict."""
    import shutil

    from spinenet_lite.config import load_recipe
    from spinenet_lite.train.trainer import train

    start = time.perf_counter()
    out = Path(out)
    recipe = load_recipe(RECIPE, overrides)
    if out.exists() and not resume:
        shutil.rmtree(out)
    result = train(None if resume else recipe, out, resume=resume, progress=progress)
    trained, detect, metrics = best_in_memory(result, progress)
    val = _split(trained.recipe, "val")
    qs = QuickstartResult(
        run_dir=out, recipe=trained.recipe, train=result, metrics=metrics,
        num_train=len(_split(trained.recipe, "train").samples), num_val=len(val.samples),
        seconds=time.perf_counter() - start, progress=progress, trained=trained,
    )
    qs.predictions = _draw_predictions(trained, detect, val)
    if extra_steps:
        qs.lines.extend(export_int8(qs))
    qs.seconds = time.perf_counter() - start
    return qs


def best_in_memory(result, progress: bool) -> tuple[runs.Trained, object, dict]:
    """The trained model as a `Trained` at its best weights, its detect function and its validation metrics.

    The model stays the one training built: when the last evaluation was the best (the usual case with a
    cosine schedule) its weights and metrics are used as they are; otherwise best.weights.h5 is loaded into
    it and evaluated once with training's detect function (no new model, no new trace).
    """
    from spinenet_lite.config import load_recipe
    from spinenet_lite.evaluate import evaluate
    from spinenet_lite.runtimes.keras import recipe_detect_fn

    run_dir = Path(result.run_dir)
    recipe = load_recipe(str(run_dir / runs.RECIPE_FILE))
    model = result.model
    detect = result.detect_fn or recipe_detect_fn(model, recipe)
    weights = runs.best_weights_in(model, run_dir, result.model_is_best, recipe.model.name)
    if result.model_is_best and result.last_metrics:
        metrics = result.last_metrics
    else:
        metrics = evaluate(detect, _split(recipe, "val"), int(recipe.model.input_size), batch_size=8,
                           progress=progress)
    trained = runs.Trained(model=model, recipe=recipe, class_names=runs.read_classes(run_dir), path=weights)
    return trained, detect, metrics


def _split(recipe, split: str):
    from spinenet_lite.data import load_dataset

    return load_dataset(recipe.data, split)


def _draw_predictions(trained: runs.Trained, detect, val, count: int = 8, conf: float = 0.3) -> Path:
    """Annotated validation images and a mosaic of them in `run/predictions/`, drawn with `detect` (the
    evaluation's function: its lower score threshold keeps every box at `conf`, which predict filters by)."""
    from PIL import Image

    from spinenet_lite.io import atomic_write_bytes
    from spinenet_lite.predict import Detector, predict
    from spinenet_lite.visualize import mosaic

    folder = trained.run_dir / runs.PREDICTIONS_DIR
    detector = Detector(detect, trained.input_size, tuple(trained.class_names), str(trained.path))
    doc = predict(detector, [s.path for s in val.samples[:count]], out_dir=folder, conf=conf)
    pictures = [Image.open(item["output"]) for item in doc["images"] if "output" in item]
    if not pictures:
        return folder
    import io

    buf = io.BytesIO()
    mosaic(pictures, cols=4, cell=256).save(buf, format="JPEG", quality=90)
    atomic_write_bytes(folder / "mosaic.jpg", buf.getvalue())
    return folder / "mosaic.jpg"


def summary(qs: QuickstartResult) -> str:
    """The text `spinenet-lite quickstart` prints."""
    r, m = qs.recipe, qs.metrics
    lines = [
        "",
        "spinenet-lite quickstart",
        f"  dataset     embedded synthetic shapes: {qs.num_train} train / {qs.num_val} val images, "
        f"classes: {', '.join(_classes(qs.run_dir))}",
        f"  model       {r.model.name} at {r.model.input_size} px, {_activation(r)}",
        f"  training    {qs.train.epochs_done} epochs ({qs.train.steps_done} steps, batch {r.train.batch_size}) in "
        f"{qs.train.seconds / 60:.1f} min" + ("  [stopped by time budget]" if qs.train.stopped_early else ""),
        f"  val mAP     AP {m['AP']:.1f}   AP50 {m['AP50']:.1f}   AP75 {m['AP75']:.1f}   (best.weights.h5)",
        f"  wall time   {qs.seconds / 60:.1f} min",
        "  look at",
        f"    curves        {qs.run_dir / runs.RESULTS_PNG}",
        f"    per epoch     {qs.run_dir / runs.RESULTS_CSV}",
    ]
    if qs.predictions:
        lines.append(f"    predictions   {qs.predictions}")
    lines += [
        f"    weights       {qs.run_dir / runs.BEST_WEIGHTS}",
        f"    tensorboard   tensorboard --logdir {qs.run_dir / runs.TENSORBOARD_DIR}",
    ]
    lines += qs.lines
    return "\n".join(lines)


def _activation(recipe) -> str:
    """The recipe's activation, or the registry's for the model when the recipe leaves it unset."""
    from spinenet_lite.models.registry import model_info

    return recipe.model.activation or model_info(recipe.model.name).defaults["activation"]


def _classes(run_dir: Path) -> list[str]:
    return list(runs.read_classes(run_dir))
