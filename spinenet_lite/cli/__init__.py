"""The `spinenet-lite` command: a thin click layer over the Python API.

Subcommands live one per module and are imported only when run, so `--help` never imports TensorFlow.
"""
from __future__ import annotations

import importlib
import sys

import click

from spinenet_lite.errors import SpineNetLiteError

# name -> (module, attribute, one-line help shown by `spinenet-lite --help`)
COMMANDS = {
    "quickstart": ("spinenet_lite.cli.quickstart", "quickstart", "Train, evaluate and export on the embedded dataset."),
    "models": ("spinenet_lite.cli.models", "models", "List registered models with params and MACs vs the paper."),
    "data": ("spinenet_lite.cli.data", "data", "Inspect and check a dataset."),
    "train": ("spinenet_lite.cli.train", "train", "Train a detector from a recipe."),
    "import": ("spinenet_lite.cli.import_", "import_cmd", "Import a Model Garden RetinaNet checkpoint as a run."),
    "qat": ("spinenet_lite.cli.qat", "qat", "Quantization-aware fine-tuning of a float checkpoint."),
    "eval": ("spinenet_lite.cli.eval", "eval_cmd", "COCO metrics for a model or a detections file."),
    "predict": ("spinenet_lite.cli.predict", "predict", "Draw detections onto images and write them as JSON."),
    "export": ("spinenet_lite.cli.export", "export", "Export to TFLite / ONNX / Core ML with a parity gate."),
    "benchmark": ("spinenet_lite.cli.benchmark", "benchmark", "Latency, size and accuracy per model, format, threads."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as err:
            from spinenet_lite.errors import suggest

            if args and args[0] not in COMMANDS:
                raise click.UsageError(f"no command {args[0]!r}{suggest(args[0], COMMANDS)}") from err
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spinenet-lite")
def cli() -> None:
    """spinenet-lite: SpineNet-Mobile object detectors, from a labelled dataset to int8 on a phone."""


def main(argv: list[str] | None = None) -> int:
    """Entry point: project errors become one line on stderr and exit code 1."""
    try:
        cli.main(args=argv, prog_name="spinenet-lite", standalone_mode=False)
    except SpineNetLiteError as err:
        click.echo(f"error: {err}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
