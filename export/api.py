"""`export()`: a trained run or checkpoint -> the requested artifacts in one folder, then the parity gate.

Everything is checked before work starts (formats and options, converters installed, output folder free and
writable, checkpoint loadable); artifacts are written into a temporary folder that is renamed into place only
when every conversion succeeded, so nothing half-written is left behind.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.export.formats import FORMATS, Target, check_installed, plan_targets
from spinenet_lite.runs import EXPORT_DIR, LABELS_FILE, Trained, load_run, write_classes_file

# Below this score threshold TFLite's per-class NMS gets most anchor-class pairs as candidates: spinenet49xxs @256,
# 80 classes took 329 ms at 0.005 against 16 ms at 0.05 (docs/results.md, export and quantization).
SLOW_NMS_SCORE_THRESHOLD = 0.01

logger = logging.getLogger(__name__)


@dataclass
class ExportResult:
    """What export() produced: artifact paths by label, and the parity rows (empty when the gate was skipped)."""

    out_dir: Path
    artifacts: dict[str, Path]
    rows: list = field(default_factory=list)


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse an existing folder without overwrite, and a folder that cannot be written."""
    if out.exists() and not overwrite:
        raise SpineNetLiteError(f"{out}: output folder exists; pass --overwrite or choose another --out")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SpineNetLiteError(f"{parent}: folder is not writable; choose another --out")


def write_target(target: Target, path: Path, model, anchors: np.ndarray, class_names, recipe, calibration) -> None:
    """Write one artifact at `path` (a file, or a folder for Core ML's .mlpackage) with its format's module."""
    import importlib

    module = importlib.import_module(f"spinenet_lite.export.{FORMATS[target.format].module}")
    module.write(target, path, model, anchors, class_names, recipe, calibration)


def export(run_or_checkpoint: str | os.PathLike | Trained, formats: list[str], out: str | os.PathLike | None = None,
           precision: str | None = None, raw: bool = False, overwrite: bool = False,
           android: str | os.PathLike | None = None, gate: bool = True, threads: int = 1,
           max_drop_float: float | None = None, max_drop_int8: float | None = None,
           progress: bool = False, reference_metrics: dict | None = None) -> ExportResult:
    """Export a trained run to the requested formats, then evaluate each artifact against the float model.

    `run_or_checkpoint` is a run folder, a weights file in one, or a run already loaded (`spinenet_lite.runs`).
    `reference_metrics`: the float model's `evaluate` result on the recipe's validation split when the caller
    already has it; the gate then compares with it instead of evaluating the float model again.
    """
    from spinenet_lite.data.calibration import calibration_images
    from spinenet_lite.io import atomic_dir

    targets = plan_targets(formats, precision, raw)
    check_installed(targets)
    loaded = isinstance(run_or_checkpoint, Trained)
    source = Path(run_or_checkpoint.path if loaded else run_or_checkpoint)
    run_dir = source if source.is_dir() else source.parent
    out_dir = Path(out) if out else run_dir / EXPORT_DIR
    check_out_dir(out_dir, overwrite)
    if android is not None and not any(t.precision == "int8" and t.format == "tflite" and not t.raw for t in targets):
        raise SpineNetLiteError("--android: copies the int8 TFLite model; add --tflite --int8")

    trained = run_or_checkpoint if loaded else load_run(run_or_checkpoint)
    recipe, model = trained.recipe, trained.model
    input_size = int(recipe.model.input_size)
    warn_slow_nms(recipe.export.score_threshold, targets)
    from spinenet_lite.anchors import generate_anchors

    anchors = generate_anchors(input_size)
    needs_calibration = any(t.precision == "int8" for t in targets) and not trained.quantized
    calibration = calibration_images(recipe, input_size, recipe.export.calibration_images) if needs_calibration else None

    artifacts: dict[str, Path] = {}
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        for target in targets:
            write_target(target, tmp / target.filename, model, anchors, trained.class_names, recipe, calibration)
            artifacts[target.label] = out_dir / target.filename
        write_classes_file(tmp / LABELS_FILE, trained.class_names)
    if android is not None:
        copy_to_android(artifacts, out_dir / LABELS_FILE, Path(android))
    result = ExportResult(out_dir, artifacts)
    if gate:
        result.rows = run_gate(trained, artifacts, max_drop_float, max_drop_int8, threads, progress,
                               reference_metrics)
    return result


def warn_slow_nms(score_threshold: float, targets: list[Target]) -> bool:
    """Warn (one line) when a TFLite detection model would run per-class NMS over most anchor-class pairs."""
    if score_threshold >= SLOW_NMS_SCORE_THRESHOLD or not any(t.format == "tflite" and not t.raw for t in targets):
        return False
    logger.warning("warning: export.score_threshold %g is below %g: TFLite's per-class NMS then sees most "
                   "anchor-class pairs and can take 20x the detector's time; keep it near 0.05",
                   score_threshold, SLOW_NMS_SCORE_THRESHOLD)
    return True


def run_gate(trained: Trained, artifacts: dict[str, Path], max_drop_float: float | None, max_drop_int8: float | None,
             threads: int = 1, progress: bool = False, reference_metrics: dict | None = None) -> list:
    """The parity table for the artifacts, on the recipe's validation split (`reference_metrics`: the float
    model's evaluation on it, when already done)."""
    from spinenet_lite.data import load_dataset
    from spinenet_lite.export.parity import parity_gate

    cfg = trained.recipe.export
    dataset = load_dataset(trained.recipe.data, "val")
    return parity_gate(trained.detect_fn(reference=True), {k: str(v) for k, v in artifacts.items()}, dataset,
                       trained.input_size, cfg.max_ap_drop_float if max_drop_float is None else max_drop_float,
                       cfg.max_ap_drop_int8 if max_drop_int8 is None else max_drop_int8, threads, progress=progress,
                       reference_metrics=reference_metrics)


def copy_to_android(artifacts: dict[str, Path], labels: Path, assets: Path) -> None:
    """Copy the int8 model (as model.tflite) and labels.txt into the Android demo's assets folder."""
    int8 = next((p for k, p in artifacts.items() if k == "tflite-int8"), None)
    if int8 is None:
        raise SpineNetLiteError("--android: no int8 TFLite model was exported; add --tflite --int8")
    if (assets / "settings.gradle.kts").is_file():  # the demo's root (`--android android_demo/`): its assets folder
        assets = assets / "app" / "src" / "main" / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    if not os.access(assets, os.W_OK):
        raise SpineNetLiteError(f"{assets}: not writable; pass the demo's app/src/main/assets folder")
    from spinenet_lite.io import atomic_write_bytes

    atomic_write_bytes(assets / "model.tflite", int8.read_bytes())
    shutil.copyfile(labels, assets / LABELS_FILE)
