"""The parity gate: every exported artifact is evaluated like the float Keras model, and must stay close to it.

AP values are COCO AP in points (0..100) from `spinenet_lite.evaluate.evaluate`, the evaluator training uses.
Limits (ExportConfig): max_ap_drop_float for fp32 / fp16 / ONNX / Core ML, max_ap_drop_int8 for int8.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from spinenet_lite.errors import SpineNetLiteError


@dataclass(frozen=True)
class ParityRow:
    """One line of the parity table."""

    label: str
    path: str
    size_bytes: int
    ap: float  # points
    ap50: float
    delta: float  # AP minus the float Keras AP, points
    latency_ms: float
    limit: float | None  # allowed AP drop; None for the reference row

    @property
    def passed(self) -> bool:
        return self.limit is None or self.delta >= -self.limit


def limit_for(label: str, max_drop_float: float, max_drop_int8: float) -> float:
    """The allowed AP drop of an artifact, by its precision."""
    return max_drop_int8 if "int8" in label else max_drop_float


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def _row(label: str, path: str, metrics: dict, reference_ap: float | None, limit: float | None) -> ParityRow:
    ap = max(float(metrics["AP"]), 0.0)
    ips = float(metrics.get("images_per_second", 0.0))
    return ParityRow(label, path, _size(Path(path)) if path else 0, ap, max(float(metrics["AP50"]), 0.0),
                     0.0 if reference_ap is None else ap - reference_ap, 1000.0 / ips if ips > 0 else 0.0, limit)


def parity_gate(reference_fn: Callable, artifacts: dict[str, str | os.PathLike | Callable], dataset, input_size: int,
                max_drop_float: float = 0.2, max_drop_int8: float = 1.5, threads: int = 1,
                reference_label: str = "keras-fp32", progress: bool = False,
                reference_metrics: dict | None = None) -> list[ParityRow]:
    """Evaluate the reference (float Keras) detect function and each runnable artifact; return the table rows.

    `artifacts` maps a label ("tflite-int8", "onnx-fp32", ...) to its file, or to a detect function already
    built. Artifacts that cannot run on this machine (Core ML off macOS) are skipped here; their structure is
    checked by their own module. `reference_metrics`, the reference's `evaluate` result on `dataset` when the
    caller already has it (training's final evaluation), replaces evaluating `reference_fn` again; its row then
    shows no latency (that evaluation ran batched, the artifacts run one image at a time).
    """
    from spinenet_lite.evaluate import evaluate
    from spinenet_lite.runtimes import detect_fn_for

    if not dataset.samples:
        raise SpineNetLiteError("parity gate: the validation split has no images; point the recipe's data.val at images")
    if reference_metrics is None:
        reference = evaluate(reference_fn, dataset, input_size, batch_size=1, progress=progress)
    else:
        reference = {**reference_metrics, "images_per_second": 0.0}
    rows = [_row(reference_label, "", reference, None, None)]
    for label, path in artifacts.items():
        if callable(path):
            detect, path = path, ""
        elif Path(path).suffix in (".tflite", ".onnx"):
            detect = detect_fn_for(path, threads)
        else:
            continue
        metrics = evaluate(detect, dataset, input_size, batch_size=1, progress=progress)
        rows.append(_row(label, str(path), metrics, rows[0].ap, limit_for(label, max_drop_float, max_drop_int8)))
    return rows


def float_labelled(dataset, reference_fn: Callable, input_size: int, class_names, min_score: float = 0.5):
    """`dataset`'s images labelled with the reference model's own detections (score >= `min_score`, classes
    `class_names`).

    The gate for a model whose classes the data does not have (a COCO-trained import checked on other images):
    the float model scores ~100 AP against itself, an artifact's AP drop is its disagreement with it.
    """
    import dataclasses

    import numpy as np

    from spinenet_lite.evaluate import evaluate

    # the labelling pass is scored too: in the model's classes, against the data's own boxes (discarded)
    dataset = dataclasses.replace(dataset, class_names=tuple(class_names), coco_source=None)
    found = evaluate(reference_fn, dataset, input_size, batch_size=1, progress=False)["detections"]
    by_id = {d["image_id"]: d for d in found}
    samples = []
    for sample in dataset.samples:
        det = by_id[int(sample.image_id)]
        keep = det["scores"] >= min_score
        samples.append(dataclasses.replace(sample, boxes=np.asarray(det["boxes"][keep], np.float32).reshape(-1, 4),
                                           labels=np.asarray(det["labels"][keep], np.int32),
                                           crowd_boxes=np.zeros((0, 4), np.float32)))
    return dataclasses.replace(dataset, samples=tuple(samples))


def format_table(rows: list[ParityRow]) -> str:
    """The parity table as aligned text."""
    lines = [f"{'format':<20} {'size':>9} {'AP':>6} {'AP50':>6} {'dAP':>6} {'limit':>6} {'ms/img':>7}  result"]
    for r in rows:
        size = f"{r.size_bytes / 1e6:.2f}MB" if r.size_bytes else "-"
        limit = f"{r.limit:.2f}" if r.limit is not None else "-"
        result = "reference" if r.limit is None else ("ok" if r.passed else "FAIL")
        latency = f"{r.latency_ms:.1f}" if r.latency_ms else "-"
        lines.append(f"{r.label:<20} {size:>9} {r.ap:6.2f} {r.ap50:6.2f} {r.delta:+6.2f} {limit:>6} "
                     f"{latency:>7}  {result}")
    return "\n".join(lines)


def check(rows: list[ParityRow]) -> None:
    """Raise SpineNetLiteError naming every artifact whose AP drop exceeds its limit."""
    failed = [r for r in rows if not r.passed]
    if failed:
        detail = ", ".join(f"{r.label} {r.delta:+.2f} AP (limit -{r.limit:.2f})" for r in failed)
        raise SpineNetLiteError(f"parity gate failed: {detail}; raise the limit with --max-drop-* or "
                                "use QAT for int8")
