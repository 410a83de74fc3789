"""`spinenet-lite export`: a thin layer over spinenet_lite.export.api.export; its format and precision flags
come from the FORMATS table."""
from __future__ import annotations

import click

from spinenet_lite.export.formats import FORMATS, PRECISION_FLAGS


def format_options(command):
    """One `--<format>` flag per FORMATS row and one `--<precision>` flag per PRECISION_FLAGS entry."""
    for name, precision_help in reversed(PRECISION_FLAGS.items()):
        command = click.option(f"--{name}", "precision", flag_value=name, help=precision_help)(command)
    for name, fmt in reversed(FORMATS.items()):
        command = click.option(f"--{name}", name, is_flag=True, help=fmt.help)(command)
    return command


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_or_checkpoint", type=click.Path())
@format_options
@click.option("--raw", is_flag=True, help="TFLite with raw box/class tensors, no post-processing op.")
@click.option("--out", type=click.Path(), default=None, help="Output folder (default: RUN/export).")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--android", type=click.Path(), default=None, help="Copy the int8 model and labels into this assets folder.")
@click.option("--no-gate", is_flag=True, help="Skip the parity gate (evaluation of every artifact).")
@click.option("--max-drop-float", type=float, default=None, help="Allowed AP drop (points) for fp32/fp16/ONNX.")
@click.option("--max-drop-int8", type=float, default=None, help="Allowed AP drop (points) for int8.")
@click.option("--threads", type=int, default=1, show_default=True, help="Threads for the runtimes in the gate.")
def export(run_or_checkpoint: str, precision: str | None, raw: bool, out: str | None, overwrite: bool,
           android: str | None, no_gate: bool, max_drop_float: float | None, max_drop_int8: float | None,
           threads: int, **chosen: bool) -> None:
    """Export RUN_OR_CHECKPOINT to TFLite / ONNX / Core ML, then check every artifact against the float model."""
    from spinenet_lite.export.api import export as run_export
    from spinenet_lite.export.formats import check_installed, plan_targets
    from spinenet_lite.export.parity import check, format_table

    formats = [name for name in FORMATS if chosen.get(name)]
    check_installed(plan_targets(formats, precision, raw))  # refuse bad combinations before TensorFlow loads
    result = run_export(run_or_checkpoint, formats, out=out, precision=precision, raw=raw, overwrite=overwrite,
                        android=android, gate=not no_gate, threads=threads, max_drop_float=max_drop_float,
                        max_drop_int8=max_drop_int8)
    for label, path in result.artifacts.items():
        click.echo(f"{label}: {path}")
    if result.rows:
        click.echo(format_table(result.rows))
        check(result.rows)
