"""Full-size SpineNet + RetinaNet: counts and latency here, next to the paper's Table 2 counts and Table 4 V100
TensorRT latency, each column labelled with its hardware. Opt-in (`--full-size`): minutes on a small CPU."""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Callable

from spinenet_lite.benchmarks.report import Row

# SpineNet paper: Table 2 (params, MACs at the listed input) and Table 4 (V100 + TensorRT, end to end, ms).
PAPER_TABLE2 = {"spinenet49s-full": (640, 16.3, 44.7), "spinenet49-full": (640, 30.9, 92.8),
                "spinenet96-full": (1024, 45.3, 283.8), "spinenet143-full": (1280, 66.9, 544.5)}
PAPER_V100_MS = {"spinenet49s-full": 11.7, "spinenet49-full": 15.3}


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_full_size(names: tuple[str, ...], out_dir: Path, threads: int = 1, runs: int = 3, warmup: int = 1,
                  echo: Callable[[str], None] = print) -> list[Row]:
    """Build each full-size model at its paper input size, count it, time fp32 TFLite and ONNX Runtime."""
    import time

    from spinenet_lite.benchmarks.candidates import Candidate, counts
    from spinenet_lite.benchmarks.runtimes import convert, file_runner, onnx_providers, representative_images
    from spinenet_lite.benchmarks.timing import time_fn
    from spinenet_lite.io import atomic_write_text
    from spinenet_lite.models.registry import create_model, model_info

    rows = []
    for name in names:
        start = time.perf_counter()
        size = model_info(name).input_size
        model = create_model(name, num_classes=80, input_size=size)
        candidate = Candidate(name, "full-size", size, model, {}, *counts(model))
        for fmt in ("tflite-fp32", "onnx"):
            path = convert(model, fmt, size, Path(out_dir) / "full_size", name, representative_images(size, None, 1))
            runner = file_runner(fmt, path, threads)
            timing = time_fn(runner.invoke, runs=runs, warmup=warmup)
            rows.append(Row(name, "full-size", size, fmt, threads, timing.median_ms, timing.p90_ms,
                            timing.throughput, runner.size_bytes / 1e6, candidate.params_m, candidate.macs_b,
                            provider=runner.provider))
        echo(f"{name}: built, converted and timed in {time.perf_counter() - start:.0f} s")
    text = full_size_markdown(rows, onnx_providers())
    echo(text)
    atomic_write_text(Path(out_dir) / "full_size.md", text + "\n")
    return rows


def full_size_markdown(rows: list[Row], providers: list[str]) -> str:
    """Ours (this CPU) beside the paper (Table 2 counts; Table 4 latency on an NVIDIA V100 with TensorRT)."""
    here = f"{cpu_name()}, {rows[0].threads if rows else 1} thread(s)"
    lines = [f"| model | input | params M (ours) | params M (paper T2) | MACs B (ours) | MACs B (paper T2) | "
             f"TFLite fp32 ms ({here}) | ONNX Runtime ms ({here}; {providers[0] if providers else 'CPU'}) | "
             f"paper ms (V100 + TensorRT, Table 4) |", "|---|---|---|---|---|---|---|---|---|"]
    by_name: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_name.setdefault(row.model, {})[row.format] = row
    for name, formats in by_name.items():
        paper = PAPER_TABLE2.get(name, (None, None, None))
        first = next(iter(formats.values()))

        def ms(fmt: str) -> str:
            return f"{formats[fmt].median_ms:.0f}" if fmt in formats else "-"

        def num(value) -> str:
            return "-" if value is None else f"{value:.1f}"

        lines.append(f"| {name} | {first.input_size} | {num(first.params_m)} | {num(paper[1])} | "
                     f"{num(first.macs_b)} | {num(paper[2])} | {ms('tflite-fp32')} | {ms('onnx')} | "
                     f"{PAPER_V100_MS.get(name, '-')} |")
    return "\n".join(lines)
