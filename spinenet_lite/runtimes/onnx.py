"""The ONNX Runtime runtime: sessions (CPU, or TensorRT / CUDA where onnxruntime offers them) and the detect
function of an exported .onnx (NMS in the graph, or raw outputs decoded by the one post-processing)."""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np

from spinenet_lite.runtimes import DetectFn
from spinenet_lite.runtimes.runner import (artifact_path, detection_op_outputs, import_runtime, loading, per_image,
                                           raw_outputs)

PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def onnx_providers() -> list[str]:
    """TensorRT, then CUDA, then CPU: whichever onnxruntime offers here."""
    ort = import_runtime("onnxruntime", "onnxruntime")
    available = ort.get_available_providers()
    return [p for p in PROVIDERS if p in available]


def onnx_session(model: bytes | str | os.PathLike, threads: int = 1, providers: Iterable[str] | None = None):
    """An ONNX Runtime session with `threads` intra-op threads, sequential execution, all graph optimisations;
    a file that does not load gives one line naming it."""
    ort = import_runtime("onnxruntime", "onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    in_memory = isinstance(model, (bytes, bytearray))
    source = bytes(model) if in_memory else str(model)
    with loading("onnx model" if in_memory else source, "ONNX"):  # onnxruntime raises its own exception types
        return ort.InferenceSession(source, options, providers=list(providers or ["CPUExecutionProvider"]))


class ONNXRunner:
    """An ONNX model in onnxruntime (CPU); `run(batch)` returns its outputs by name."""

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        self.path = artifact_path(path, "ONNX", "--onnx")
        self.session = onnx_session(self.path, threads)
        self.input = self.session.get_inputs()[0]
        self.input_size = int(self.input.shape[1])
        self.names = [o.name for o in self.session.get_outputs()]

    @property
    def is_raw(self) -> bool:
        return "num_detections" not in self.names

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        values = self.session.run(None, {self.input.name: np.asarray(batch, np.float32)})
        return dict(zip(self.names, values))


def onnx_detect_fn(path: str | os.PathLike, threads: int = 1, **postprocess_kwargs) -> DetectFn:
    """A detect function for an exported .onnx (NMS inside the graph; or raw outputs decoded here)."""
    runner = ONNXRunner(path, threads)
    if not runner.is_raw:
        return per_image(runner, detection_op_outputs)
    return per_image(runner, raw_outputs(runner.input_size, **postprocess_kwargs))
