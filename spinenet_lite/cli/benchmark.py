"""`spinenet-lite benchmark`: latency, size, MACs efficiency and accuracy per model x format x threads."""
from __future__ import annotations

import click

from spinenet_lite.errors import SpineNetLiteError

DEFAULT_FORMATS = "keras,tflite-fp32,tflite-fp16,tflite-int8,onnx"


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise SpineNetLiteError(f"{option}: {text!r} is not a comma-separated list of integers, e.g. 1,2") from None


@click.command("benchmark")
@click.argument("models", nargs=-1)
@click.option("--formats", default=DEFAULT_FORMATS, show_default=True,
              help="Comma-separated formats: keras, tflite-fp32, tflite-fp16, tflite-int8, onnx.")
@click.option("--threads", default="1,2", show_default=True, help="Comma-separated CPU thread counts.")
@click.option("--runs", default=50, show_default=True, help="Timed runs per model x format x threads.")
@click.option("--warmup", default=5, show_default=True, help="Untimed warm-up runs before timing.")
@click.option("--input-size", type=int, default=None, help="Override every model's input size (pixels).")
@click.option("--num-classes", default=80, show_default=True, help="Classes of registry models and peers.")
@click.option("--data", type=click.Path(), default=None, help="Dataset folder: adds AP / AP50 per model x format.")
@click.option("--data-format", default="voc", show_default=True, help="Format of --data: voc, coco, yolo.")
@click.option("--split", default="val", show_default=True, help="Split of --data to evaluate on.")
@click.option("--peers", is_flag=True, help="Add MobileNetV3-Small/Large-SSDLite, built and converted the same way.")
@click.option("--model-garden", is_flag=True, help="Add the TF Model Garden SpineNet-Mobile files (see "
              "benchmarks/model_garden_env.sh).")
@click.option("--model-garden-dir", type=click.Path(), default=None,
              help="Where model_garden_env.sh wrote its files (default ~/.cache/spinenet-lite/model-garden).")
@click.option("--full-size", is_flag=True, help="Also time SpineNet-49s/49/96/143/190 + RetinaNet (slow: minutes).")
@click.option("--full-size-models", default="spinenet49s-full,spinenet49-full", show_default=True,
              help="Which full-size models --full-size builds.")
@click.option("--no-peak", is_flag=True, help="Skip the matrix-product peak measurement.")
@click.option("--out", type=click.Path(), default=None, help="Run folder (default runs/benchmark-<timestamp>).")
@click.option("--reuse-models", type=click.Path(exists=True, file_okay=False), default=None,
              help="Time the files an earlier run converted (its models/ folder) instead of converting again.")
@click.option("--device-command", is_flag=True, help="Also print adb / benchmark_model commands for a phone.")
def benchmark(models, formats, threads, runs, warmup, input_size, num_classes, data, data_format, split, peers,
              model_garden, model_garden_dir, full_size, full_size_models, no_peak, out, reuse_models,
              device_command) -> None:
    """Time MODELS (registry names, run folders, checkpoints or .tflite/.onnx files) in every format and
    thread count; write results.csv, results.md and plots to the run folder. Default model: spinenet49xxs."""
    from spinenet_lite.benchmarks.runtimes import parse_formats

    parsed = parse_formats(formats)
    thread_counts = _ints(threads, "--threads")
    from spinenet_lite.benchmarks.harness import BenchmarkConfig, run_benchmark

    cfg = BenchmarkConfig(
        models=tuple(models) or ("spinenet49xxs",), formats=parsed, threads=thread_counts, runs=runs,
        warmup=warmup, num_classes=num_classes, input_size=input_size, data=data, data_format=data_format,
        split=split, peers=peers, model_garden=model_garden, model_garden_dir=model_garden_dir, out=out,
        reuse_models=reuse_models, peak=not no_peak)
    rows, _, out_dir = run_benchmark(cfg, echo=click.echo)
    if full_size:
        from spinenet_lite.benchmarks.full_size import run_full_size

        run_full_size(tuple(m.strip() for m in full_size_models.split(",") if m.strip()), out_dir,
                      threads=max(thread_counts), echo=click.echo)
    if device_command:
        from spinenet_lite.benchmarks.device import device_commands

        click.echo(device_commands(sorted(out_dir.glob("models/*.tflite")), thread_counts, runs, warmup))
