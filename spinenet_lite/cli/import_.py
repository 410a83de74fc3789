"""`spinenet-lite import CHECKPOINT --from model-garden --model NAME`: a thin layer over
`spinenet_lite.model_garden.import_checkpoint`."""
from __future__ import annotations

import click


@click.command("import", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("checkpoint", type=click.Path())
@click.option("--from", "source", default="model-garden", show_default=True, type=click.Choice(["model-garden"]),
              help="Who wrote the checkpoint: the TensorFlow Model Garden's RetinaNet (tf.train.Checkpoint).")
@click.option("--model", "model", required=True,
              help="Our name of the checkpoint's model: spinenet49xxs (its 49XS), spinenet49xs (49S), spinenet49 "
                   "(49), spinenet49-full (SpineNet-49), ...")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run folder to write (default: runs/<model>_model_garden).")
@click.option("--input-size", type=int, default=None,
              help="Input size of the imported model (default: the Model Garden's for that model).")
def import_cmd(checkpoint, source, model, out, input_size) -> None:
    """Import CHECKPOINT (a prefix such as ckpt-277200, its .index, or its folder) as a run folder.

    The folder holds recipe.yaml, classes.txt (the Model Garden's 91 COCO ids) and best/last.weights.h5, so
    eval, predict, export, qat, benchmark and `train --init` take it like any run.
    """
    from spinenet_lite.model_garden import import_checkpoint

    run_dir = import_checkpoint(checkpoint, model, out=out, source=source, input_size=input_size)
    click.echo(f"wrote {run_dir} (recipe.yaml, classes.txt, best.weights.h5); "
               f"fine-tune: spinenet-lite train RECIPE --init {run_dir}")
