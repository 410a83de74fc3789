"""Quantization-aware training runs: fine-tune a trained float run on the QAT graph of `spinenet_lite.quant_graph`
with the project's trainer. The QAT run folder holds `qat.weights.h5` (what `spinenet-lite export` reads) and
`float.weights.h5` (the parity gate's reference) next to the recipe; `spinenet_lite.runs.load_qat` loads it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.quant_graph import calibrate_ranges, quantize_model, require_tfmot
from spinenet_lite.runs import (CLASSES_FILE, FLOAT_WEIGHTS, QAT_DIR, QAT_WEIGHTS, RECIPE_FILE, Trained,
                               best_weights_in, build_model, load_trained, read_classes)


@dataclass
class QATResult:
    """What `qat()` wrote: the QAT folder, the training result, the float checkpoint it started from, and the
    QAT model in memory with the weights `qat.weights.h5` holds (what `runs.load_qat` would load)."""

    run_dir: Path
    train: object  # trainer.TrainResult
    float_checkpoint: Path
    trained: Trained | None = None


def qat_recipe(recipe, epochs: int | None = None):
    """The recipe QAT trains with: `train.qat_epochs` at `train.qat_learning_rate`, cosine, no warm-up, batch
    norm frozen throughout unless `train.qat_freeze_bn` is false."""
    import dataclasses

    cfg = recipe.train
    epochs = int(epochs or cfg.qat_epochs)
    train = dataclasses.replace(cfg, epochs=epochs, learning_rate=cfg.qat_learning_rate, warmup_steps=0,
                                schedule="cosine", eval_every=max(epochs, 1),
                                freeze_bn_epochs=epochs if cfg.qat_freeze_bn else 0)
    return dataclasses.replace(recipe, train=train)


def qat(recipe, checkpoint: str | os.PathLike | Trained, out: str | os.PathLike | None = None,
        epochs: int | None = None, overrides: tuple[str, ...] = (), calibration_images: int = 160,
        max_steps: int | None = None,
        overwrite: bool = False, progress: bool = True) -> QATResult:
    """Quantization-aware fine-tuning of a trained float run (tensorflow-model-optimization, 8-bit).

    Loads `checkpoint` (run folder or .weights.h5, or takes an already loaded `Trained`), quantizes it, sets the
    input range to 0..255, calibrates every activation range on real training images, then fine-tunes with the
    project's trainer at `train.qat_learning_rate` for `train.qat_epochs` (or `epochs`). `recipe` is None (the
    run's own recipe), a shipped name / YAML path, or a Recipe; its model section must be the checkpoint's. Writes `out` (default
    `<run>/qat/`): recipe.yaml, classes.txt, results.csv, checkpoints/, best/last.weights.h5, `qat.weights.h5`
    (what `spinenet-lite export` reads) and `float.weights.h5` (the reference of the parity gate). The result
    holds the QAT model in memory at those weights (`trained`), so a caller exports it without reloading.
    """
    import shutil

    from spinenet_lite.config import load_recipe
    from spinenet_lite.data.calibration import calibration_batches
    from spinenet_lite.io import atomic_write_bytes
    from spinenet_lite.train.trainer import train

    require_tfmot()
    trained = checkpoint if isinstance(checkpoint, Trained) else load_trained(checkpoint)
    if recipe is None:
        recipe = trained.recipe
        if overrides:
            from spinenet_lite.config import apply_overrides, recipe_from_dict

            recipe = recipe_from_dict(apply_overrides(recipe.to_dict(), list(overrides)), "--set")
    elif isinstance(recipe, (str, os.PathLike)):
        recipe = load_recipe(str(recipe), overrides)
    if recipe.model != trained.recipe.model:
        raise SpineNetLiteError(
            f"qat: the recipe's model ({recipe.model.name} at {recipe.model.input_size} px) is not the one "
            f"{trained.path} was trained as ({trained.recipe.model.name} at {trained.recipe.model.input_size} px); "
            "pass the run's recipe.yaml")
    run_dir = trained.path.parent
    out = Path(out) if out else run_dir / QAT_DIR
    if out.exists():
        if not overwrite:
            raise SpineNetLiteError(f"{out}: QAT folder exists; pass --overwrite or choose another --out")
        shutil.rmtree(out)
    recipe = qat_recipe(recipe, epochs)
    batches = calibration_batches(recipe, calibration_images)

    def quantized_model(qrecipe, num_classes: int):
        if num_classes != len(trained.class_names):
            raise SpineNetLiteError(f"qat: the recipe's data has {num_classes} classes, {trained.path} has "
                                    f"{len(trained.class_names)}; use the data the float run trained on")
        float_model = build_model(qrecipe, num_classes, stochastic_depth=qrecipe.train.stochastic_depth)
        for layer in float_model.layers:  # by name: stochastic depth layers change the weight order
            if layer.weights:
                layer.set_weights(trained.model.get_layer(layer.name).get_weights())
        model = quantize_model(float_model)
        calibrate_ranges(model, batches)
        return model

    result = train(recipe, out, progress=progress, max_steps=max_steps, model_fn=quantized_model)
    if read_classes(out) != tuple(trained.class_names):
        raise SpineNetLiteError(f"{out / CLASSES_FILE}: class order differs from {run_dir / CLASSES_FILE}; "
                                "use the data the float run trained on")
    best = best_weights_in(result.model, out, result.model_is_best, recipe.model.name)
    atomic_write_bytes(out / QAT_WEIGHTS, best.read_bytes())
    atomic_write_bytes(out / FLOAT_WEIGHTS, Path(trained.path).read_bytes())
    held = Trained(result.model, load_recipe(str(out / RECIPE_FILE)), tuple(trained.class_names),
                   out / QAT_WEIGHTS, float_model=trained.model, quantized=True)
    return QATResult(out, result, Path(trained.path), held)
