"""`spinenet-lite qat RECIPE --from CHECKPOINT`: a thin layer over `spinenet_lite.qat.qat`."""
from __future__ import annotations

import click


@click.command("qat", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("recipe", required=False)
@click.option("--from", "checkpoint", required=True, type=click.Path(),
              help="Trained float run folder (or its .weights.h5) to fine-tune.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a recipe field, e.g. --set train.qat_learning_rate=0.002 (repeatable).")
@click.option("--epochs", type=int, default=None, help="QAT epochs (default: the recipe's train.qat_epochs).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="QAT folder to write (default: RUN/qat).")
@click.option("--calibration-images", type=int, default=160, show_default=True,
              help="Training images used to initialise the activation ranges before fine-tuning.")
@click.option("--overwrite", is_flag=True, help="Replace the QAT folder if it exists.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def qat(recipe, checkpoint, overrides, epochs, out, calibration_images, overwrite, no_progress) -> None:
    """Quantization-aware fine-tuning of a float checkpoint (RECIPE: a name or YAML; default: the run's own).

    Writes RUN/qat/ with qat.weights.h5; export it with `spinenet-lite export RUN/qat --tflite --int8`.
    """
    from spinenet_lite.qat import qat as run_qat

    result = run_qat(recipe, checkpoint, out=out, epochs=epochs, overrides=tuple(overrides),
                     calibration_images=calibration_images, overwrite=overwrite, progress=not no_progress)
    metrics = result.train.last_metrics
    click.echo(f"QAT: {result.train.steps_done} steps in {result.train.seconds / 60:.1f} min, "
               f"val AP {metrics.get('AP', float('nan')):.2f} AP50 {metrics.get('AP50', float('nan')):.2f}")
    click.echo(f"wrote {result.run_dir} (qat.weights.h5); next: spinenet-lite export {result.run_dir} --tflite --int8")
