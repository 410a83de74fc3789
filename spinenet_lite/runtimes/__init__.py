"""Runtimes: every way a detector runs gives the same detect function (ARCHITECTURE.md).

A detect function takes float32 [B, S, S, 3] letterboxed 0..255 images and returns, per image,
dict(boxes=[m, 4] normalised yxyx in the letterboxed frame, scores=[m], labels=[m] int). Keras
(`runtimes.keras`), TFLite with ai-edge-litert (`runtimes.tflite`) and ONNX Runtime (`runtimes.onnx`) each give
one; evaluation, export's parity gate, predict and the benchmark all take theirs from here. Core ML packages
run only on macOS, so there is no Core ML runtime on this platform.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from spinenet_lite.errors import SpineNetLiteError

DetectFn = Callable[[np.ndarray], list]


def detect_fn_for(path: str | os.PathLike, threads: int = 1, **postprocess_kwargs) -> DetectFn:
    """The detect function for an exported file, chosen by its suffix (raw outputs are decoded with
    `postprocess_kwargs`)."""
    suffix = Path(path).suffix
    if suffix == ".tflite":
        from spinenet_lite.runtimes.tflite import tflite_detect_fn

        return tflite_detect_fn(path, threads, **postprocess_kwargs)
    if suffix == ".onnx":
        from spinenet_lite.runtimes.onnx import onnx_detect_fn

        return onnx_detect_fn(path, threads, **postprocess_kwargs)
    raise SpineNetLiteError(f"{path}: no runtime for {suffix!r} files here; .tflite and .onnx run on Linux "
                            "(Core ML .mlpackage runs only on macOS)")
