"""`spinenet-lite benchmark` as a Python API: models x formats x threads -> rows, peaks, files in a run folder."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from spinenet_lite.benchmarks.candidates import Candidate, resolve
from spinenet_lite.benchmarks.report import Row
from spinenet_lite.benchmarks.runtimes import FORMATS
from spinenet_lite.errors import SpineNetLiteError


@dataclass
class BenchmarkConfig:
    """Everything the CLI passes in; defaults are the CLI's."""

    models: tuple[str, ...] = ("spinenet49xxs",)
    formats: tuple[str, ...] = ("tflite-fp32", "tflite-int8")
    threads: tuple[int, ...] = (1,)
    runs: int = 50
    warmup: int = 5
    num_classes: int = 80
    input_size: int | None = None
    data: str | None = None
    data_format: str = "voc"
    split: str = "val"
    peers: bool = False
    model_garden: bool = False
    model_garden_dir: str | None = None
    out: str | None = None
    reuse_models: str | None = None
    peak: bool = True
    plots: bool = True


def default_out_dir() -> Path:
    """runs/benchmark-<timestamp>/"""
    return Path("runs") / f"benchmark-{time.strftime('%Y%m%d-%H%M%S')}"


def _accuracy(candidate: Candidate, fmt: str, path: Path | None, dataset, cache: dict) -> dict | None:
    """AP / AP50 of one model x format on `dataset` (thread-independent, computed once)."""
    key = (candidate.name, fmt)
    if key in cache:
        return cache[key]
    from spinenet_lite.evaluate import evaluate
    from spinenet_lite.runtimes import detect_fn_for
    from spinenet_lite.runtimes.keras import keras_detect_fn

    detect = None
    if fmt == "keras" and candidate.model is not None:
        detect = keras_detect_fn(candidate.model, candidate.input_size)
    elif path is not None:
        detect = detect_fn_for(path)
    cache[key] = None if detect is None else evaluate(detect, dataset, candidate.input_size, progress=False)
    return cache[key]


def _load_data(cfg: BenchmarkConfig):
    from spinenet_lite.config import DataConfig
    from spinenet_lite.data import load_dataset

    return load_dataset(DataConfig(format=cfg.data_format, root=str(cfg.data)), cfg.split)


def benchmark_candidates(candidates: list[Candidate], cfg: BenchmarkConfig, workdir: Path, peaks: dict,
                         echo: Callable[[str], None] = print, dataset=None) -> list[Row]:
    """Convert each candidate once per format, then time every model x format x threads in interleaved rounds
    (`timing.time_interleaved`: load drift on a shared CPU hits every model alike), one Row per measurement.

    `peaks` maps (runtime, precision, threads) to None (or a Peak): the peak matrix products are timed in the
    same rounds as the models, so a model's fraction of the peak is measured under the same load; the measured
    Peaks are written back into `peaks`.
    """
    from tqdm import tqdm

    from spinenet_lite.benchmarks.peak import peak_fn, peak_from

    from spinenet_lite.benchmarks.runtimes import convert, file_runner, keras_runner, representative_images
    from spinenet_lite.benchmarks.timing import time_interleaved

    calibration = _calibration(dataset, cfg)
    jobs = [(c, f) for c in candidates
            for f in (list(c.files) if c.source == "file" else cfg.formats) if c.model is not None or f in c.files]
    ap_cache: dict = {}
    keras_done: set = set()
    measured: list[tuple[Candidate, object, dict | None]] = []  # (candidate, runner, metrics) in table order
    for candidate, fmt in tqdm(jobs, desc="convert", unit="file", leave=False):
        path = candidate.files.get(fmt)
        if path is None and fmt != "keras" and cfg.reuse_models:
            path = _reused(candidate, fmt, Path(cfg.reuse_models), workdir)
            if path is not None:
                candidate.files[fmt] = path
        if path is None and fmt != "keras":
            calib = representative_images(candidate.input_size, calibration.get(candidate.input_size))
            path = convert(candidate.model, fmt, candidate.input_size, workdir, candidate.name, calib)
            candidate.files[fmt] = path
        metrics = _accuracy(candidate, fmt, path, dataset, ap_cache) if dataset is not None else None
        for threads in cfg.threads:
            if fmt == "keras":
                from spinenet_lite.benchmarks.runtimes import tf_threads

                actual = tf_threads(threads)
                if actual != threads and (candidate.name, actual) in keras_done:
                    continue  # TF fixed its pool at start-up: one Keras row at the pool it has
                keras_done.add((candidate.name, actual))
                runner = keras_runner(candidate.model, candidate.input_size, actual)
            else:
                runner = file_runner(fmt, path, threads)
            measured.append((candidate, runner, metrics))
    keys = sorted(peaks)
    fns = [runner.invoke for _, runner, _ in measured] + [peak_fn(*key) for key in keys]
    with tqdm(total=len(fns) * cfg.runs, desc="benchmark", unit="run", leave=False) as bar:
        timings = time_interleaved(fns, cfg.runs, cfg.warmup, progress=bar.update)
    for key, timing in zip(keys, timings[len(measured):]):
        peaks[key] = peak_from(*key, timing)
        echo(f"peak {key[0]} {key[1]} x{key[2]}: {peaks[key].macs_per_s / 1e9:.1f} GMAC/s (median "
             f"{timing.median_ms:.1f} ms for a 256x2048x2048 matrix product, timed in the models' rounds)")
    return [_row(candidate, runner, timing, metrics, cfg, peaks.get((runner.runtime, runner.precision,
                                                                     runner.threads)))
            for (candidate, runner, metrics), timing in zip(measured, timings)]


def _reused(candidate: Candidate, fmt: str, folder: Path, workdir: Path) -> Path | None:
    """A file an earlier run converted (`<folder>/<name>_<fmt>.<suffix>`), copied into this run's models/.

    Conversions take minutes on a loaded CPU and a registry model's weights are random anyway, so a latency re-run
    can time the earlier files. The file must have the candidate's input size; with --data, reuse only files
    converted from the same checkpoint.
    """
    import shutil

    from spinenet_lite.benchmarks.runtimes import SUFFIX, file_input_size

    source = folder / f"{candidate.name}_{fmt}{SUFFIX[fmt]}"
    if not source.is_file():
        return None
    size = file_input_size(source)
    if size != candidate.input_size:
        raise SpineNetLiteError(f"--reuse-models: {source} takes {size} px, {candidate.name} is {candidate.input_size} "
                                f"px; point --reuse-models at a run with the same input size or drop it")
    workdir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(source, workdir / source.name))


def _row(candidate: Candidate, runner, timing, metrics: dict | None, cfg: BenchmarkConfig, peak) -> Row:
    gmacs = candidate.macs_b / (timing.median_ms / 1000.0) if candidate.macs_b else None
    if metrics is not None:
        ap, ap50, source = metrics["AP"], metrics["AP50"], f"data: {cfg.data}"
    elif candidate.paper_ap is not None:
        ap, ap50, source = candidate.paper_ap, None, "paper (COCO)"
    else:
        ap, ap50, source = None, None, ""
    return Row(
        model=candidate.name, source=candidate.source, input_size=candidate.input_size, format=runner.format,
        threads=runner.threads, median_ms=timing.median_ms, p90_ms=timing.p90_ms, throughput=timing.throughput,
        size_mb=runner.size_bytes / 1e6, params_m=candidate.params_m, macs_b=candidate.macs_b, ap=ap, ap50=ap50,
        ap_source=source, gmacs_per_s=gmacs,
        peak_fraction=(gmacs * 1e9 / peak.macs_per_s) if (gmacs and peak is not None) else None,
        provider=runner.provider,
    )


def _calibration(dataset, cfg: BenchmarkConfig) -> dict[int, np.ndarray]:
    """Letterboxed calibration images per input size, from --data when given (else random pixels later)."""
    if dataset is None:
        return {}
    from spinenet_lite.preprocess import letterbox, load_image

    sizes = {cfg.input_size} if cfg.input_size else set()
    out = {}
    samples = dataset.samples[:8]
    for size in sizes or {256, 320, 384, 512, 640}:
        out[size] = np.stack([np.asarray(letterbox(load_image(s.path), size)[0]) for s in samples])
    return out


def peak_keys(cfg: BenchmarkConfig) -> dict:
    """{(runtime, precision, threads): None} for every runtime x precision the chosen formats use."""
    wanted = set()
    for fmt in cfg.formats:
        if fmt.startswith("tflite"):
            wanted.add(("tflite", "int8" if fmt == "tflite-int8" else "fp32"))
        elif fmt == "onnx":
            wanted.add(("onnx", "fp32"))
    return {(runtime, precision, threads): None for runtime, precision in sorted(wanted) for threads in cfg.threads}


def run_benchmark(cfg: BenchmarkConfig, echo: Callable[[str], None] = print) -> tuple[list[Row], dict, Path]:
    """The whole benchmark: resolve models, measure peaks, time everything, write CSV / Markdown / plots."""
    from spinenet_lite.benchmarks import model_garden, plots
    from spinenet_lite.benchmarks.peers import list_peers, peers_markdown
    from spinenet_lite.benchmarks.report import (format_markdown, format_table, peaks_markdown, write_csv,
                                                 write_markdown)
    from spinenet_lite.io import atomic_dir

    for fmt in cfg.formats:
        if fmt not in FORMATS:
            raise SpineNetLiteError(f"--formats: unknown format {fmt!r}; choose from {','.join(FORMATS)}")
    if any(t < 1 for t in cfg.threads):
        raise SpineNetLiteError(f"--threads: {cfg.threads} must be positive counts, e.g. --threads 1,2")
    dataset = _load_data(cfg) if cfg.data else None
    num_classes = len(dataset.class_names) if dataset is not None else cfg.num_classes
    specs = list(cfg.models) + (list_peers() if cfg.peers else [])
    candidates = [resolve(spec, num_classes, cfg.input_size) for spec in specs]
    if cfg.model_garden:
        found, message = model_garden.candidates(cfg.model_garden_dir)
        candidates += found
        echo(message)
    out = Path(cfg.out) if cfg.out else default_out_dir()
    with atomic_dir(out, overwrite=True) as tmp:
        peaks = peak_keys(cfg) if cfg.peak else {}
        rows = benchmark_candidates(candidates, cfg, tmp / "models", peaks, echo, dataset)
        _relocate(candidates, tmp, out)
        echo(format_table(rows))
        write_csv(rows, tmp / "results.csv")
        sections = [("Results", format_markdown(rows)), ("Machine peak", peaks_markdown(peaks))]
        if cfg.peers:
            sections.append(("Peers vs the paper's Table 9 (paper counts at 320 px)", peers_markdown(candidates)))
            echo(sections[-1][1])
            from spinenet_lite.benchmarks.peers import peer_ratio_markdown

            sections.append(("Ours / MobileNetV3-SSDLite peer at the same input (target: 49xs int8 <= 1.0)",
                             peer_ratio_markdown(rows)))
            echo(sections[-1][1])
        if cfg.model_garden:
            sections.append(("Ours / Model Garden (target <= 0.9 for int8)", model_garden.ratio_markdown(rows)))
            echo(sections[-1][1])
        write_markdown(sections, tmp / "results.md")
        if cfg.plots and rows:
            plots.write_plots(rows, tmp)
    echo(f"wrote {out}/results.csv, results.md" + (", latency_vs_ap.png, macs_vs_ap.png" if cfg.plots else ""))
    return rows, peaks, out


def _relocate(candidates: list[Candidate], tmp: Path, out: Path) -> None:
    """Converted files were written in the temporary folder; point the candidates at their final place."""
    for c in candidates:
        c.files = {k: (out / p.relative_to(tmp) if tmp in p.parents else p) for k, p in c.files.items()}
