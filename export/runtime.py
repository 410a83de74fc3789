"""Detect functions for exported artifacts: TFLite (ai-edge-litert) and ONNX Runtime.

A detect function takes float32 [B, S, S, 3] letterboxed 0..255 images and returns, per image,
dict(boxes=[m, 4] normalised yxyx in the letterboxed frame, scores=[m], labels=[m] int) (ARCHITECTURE.md).
TFLite runs with ai-edge-litert (the maintained successor of tflite-runtime, with XNNPACK for int8).
"""
from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.export.tflite import check_int8_ranges

DetectFn = Callable[[np.ndarray], list]


def _cast_input(batch: np.ndarray, detail: dict) -> np.ndarray:
    """Feed 0..255 float pixels to a float input or quantize them for an integer input."""
    dtype = detail["dtype"]
    if dtype == np.float32:
        return batch.astype(np.float32)
    scale, zero = detail["quantization"]
    scale = scale or 1.0
    info = np.iinfo(dtype)
    return np.clip(np.round(batch / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(value: np.ndarray, detail: dict) -> np.ndarray:
    if value.dtype in (np.float32, np.float16):
        return value.astype(np.float32)
    scale, zero = detail["quantization"]
    return (value.astype(np.float32) - zero) * (scale or 1.0)


def _import_runtime(module: str, package: str):
    """Import a runtime module that comes with the `export` extra, naming the pip command when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SpineNetLiteError(f"{package} is not installed; run: pip install 'spinenet-lite[export]'") from None


def _artifact_path(path: str | os.PathLike, kind: str, flag: str) -> Path:
    """`path` as a Path, if the file exists; else an error naming the export flag that writes one."""
    path = Path(path)
    if not path.is_file():
        raise SpineNetLiteError(f"{path}: no such {kind} model; export one with `spinenet-lite export RUN {flag}`")
    return path


@contextmanager
def _loading(path: Path, kind: str, errors: tuple[type[BaseException], ...] = (Exception,)) -> Iterator[None]:
    """Turn a runtime's load failure (`errors`) into one line naming the file."""
    try:
        yield
    except errors as err:
        first_line = (str(err).splitlines() or [type(err).__name__])[0][:160]
        raise SpineNetLiteError(f"{path}: not a loadable {kind} model ({first_line})") from None


class TFLiteRunner:
    """One TFLite model in an ai-edge-litert Interpreter; `run(image)` returns its outputs by name, dequantized."""

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        litert = _import_runtime("ai_edge_litert.interpreter", "ai-edge-litert")
        self.path = _artifact_path(path, "TFLite", "--tflite")
        check_int8_ranges(self.path.read_bytes(), str(self.path))
        with _loading(self.path, "TFLite", (ValueError, RuntimeError)):
            self.interpreter = litert.Interpreter(model_path=str(self.path), num_threads=int(threads))
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = self.interpreter.get_output_details()
        self.input_size = int(self.input["shape"][1])
        self.names = [d["name"] for d in self.outputs]

    @property
    def is_raw(self) -> bool:
        return "box_encodings" in self.names

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs for one image [S, S, 3] or [1, S, S, 3] (0..255)."""
        batch = np.asarray(image, np.float32).reshape(1, self.input_size, self.input_size, 3)
        self.interpreter.set_tensor(self.input["index"], _cast_input(batch, self.input))
        self.interpreter.invoke()
        return {d["name"]: _dequantize(self.interpreter.get_tensor(d["index"]), d) for d in self.outputs}


def _detections_from_op(out: dict[str, np.ndarray]) -> dict:
    n = int(out["num_detections"].reshape(-1)[0])
    return {"boxes": np.clip(out["detection_boxes"][0, :n], 0.0, 1.0), "scores": out["detection_scores"][0, :n],
            "labels": out["detection_classes"][0, :n].astype(np.int32)}


def raw_postprocess_fn(input_size: int, score_threshold: float = 0.05, iou_threshold: float = 0.5,
                       max_detections: int = 100) -> Callable[[np.ndarray, np.ndarray], list]:
    """Decode raw (box_encodings, class_logits) batches with the project's one post-processing."""
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.keras import tf
    from spinenet_lite.postprocess import postprocess

    anchors = tf.constant(generate_anchors(input_size), tf.float32)

    def decode(box_encodings: np.ndarray, class_logits: np.ndarray) -> list:
        out = postprocess(tf.constant(box_encodings), tf.constant(class_logits), anchors,
                          score_threshold=score_threshold, iou_threshold=iou_threshold,
                          max_detections=max_detections)
        out = {k: np.asarray(v) for k, v in out.items()}
        results = []
        for i in range(out["boxes"].shape[0]):
            n = int(out["num_detections"][i])
            results.append({"boxes": out["boxes"][i, :n], "scores": out["scores"][i, :n],
                            "labels": out["classes"][i, :n].astype(np.int32)})
        return results
    return decode


def _per_image(runner, detections: Callable[[dict[str, np.ndarray]], list]) -> DetectFn:
    """A detect function that runs `runner` on one [1, S, S, 3] image at a time (the exports have batch 1) and
    turns each run's outputs into a list of per-image detections."""

    def detect(batch: np.ndarray) -> list:
        results = []
        for image in np.asarray(batch, np.float32):
            results.extend(detections(runner.run(image[None])))
        return results

    detect.input_size = runner.input_size  # type: ignore[attr-defined]
    return detect


def _op_detections(out: dict[str, np.ndarray]) -> list:
    return [_detections_from_op(out)]


def tflite_detect_fn(path: str | os.PathLike, threads: int = 1, **postprocess_kwargs) -> DetectFn:
    """A detect function for an exported .tflite (with the detection op, or --raw outputs decoded here)."""
    runner = TFLiteRunner(path, threads)
    if not runner.is_raw:
        return _per_image(runner, _op_detections)
    decode = raw_postprocess_fn(runner.input_size, **postprocess_kwargs)
    return _per_image(runner, lambda out: decode(out["box_encodings"], out["class_logits"]))


class ONNXRunner:
    """An ONNX model in onnxruntime (CPU)."""

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        ort = _import_runtime("onnxruntime", "onnxruntime")
        self.path = _artifact_path(path, "ONNX", "--onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3
        with _loading(self.path, "ONNX"):  # onnxruntime raises its own exception types
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0]
        self.input_size = int(self.input.shape[1])
        self.names = [o.name for o in self.session.get_outputs()]

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        values = self.session.run(None, {self.input.name: np.asarray(batch, np.float32)})
        return dict(zip(self.names, values))


def onnx_detect_fn(path: str | os.PathLike, threads: int = 1) -> DetectFn:
    """A detect function for an exported .onnx (NMS inside the graph; outputs padded to max_detections)."""
    return _per_image(ONNXRunner(path, threads), _op_detections)


def detect_fn_for(path: str | os.PathLike, threads: int = 1) -> DetectFn:
    """The detect function for an artifact, chosen by its suffix."""
    suffix = Path(path).suffix
    if suffix == ".tflite":
        return tflite_detect_fn(path, threads)
    if suffix == ".onnx":
        return onnx_detect_fn(path, threads)
    raise SpineNetLiteError(f"{path}: no runtime for {suffix!r} files here; .tflite and .onnx run on Linux "
                            "(Core ML .mlpackage runs only on macOS)")
