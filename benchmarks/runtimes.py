"""One runner per benchmarked format: convert a Keras model once, then time it at any thread count.

Formats: keras (tf.function, TF's own thread pool), tflite-fp32 / tflite-fp16 / tflite-int8 (ai-edge-litert with
its default XNNPACK delegate) and onnx (ONNX Runtime, CPU provider, or TensorRT / CUDA when present). TFLite files
come from the export's converter (`spinenet_lite.export.tflite`, raw outputs) so benchmarked files are the shipped
ones; loading and running them is `spinenet_lite.runtimes`'.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from spinenet_lite.errors import SpineNetLiteError, suggest
from spinenet_lite.runtimes import onnx, tflite

FORMATS = ("keras", "tflite-fp32", "tflite-fp16", "tflite-int8", "onnx")
SUFFIX = {"tflite-fp32": ".tflite", "tflite-fp16": ".tflite", "tflite-int8": ".tflite", "onnx": ".onnx"}


def parse_formats(text: str) -> tuple[str, ...]:
    """'keras,tflite-int8' -> ('keras', 'tflite-int8'); unknown names raise with a suggestion."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    for name in names:
        if name not in FORMATS:
            raise SpineNetLiteError(f"--formats: unknown format {name!r}{suggest(name, FORMATS)}; "
                                    f"choose from {','.join(FORMATS)}")
    if not names:
        raise SpineNetLiteError(f"--formats: empty; choose from {','.join(FORMATS)}")
    return names


@dataclass
class Runner:
    """A converted model ready to time: `invoke()` runs one batch on the prepared input."""

    format: str
    threads: int
    invoke: Callable[[], object]
    size_bytes: int
    path: Path | None
    runtime: str  # which peak it is compared with: "tflite", "onnx" or "keras"
    precision: str  # "fp32" or "int8"
    provider: str = ""


def representative_images(input_size: int, images: np.ndarray | None, steps: int = 8):
    """Calibration batches [1, S, S, 3] float32 0..255: the given letterboxed images, else random pixels."""
    if images is not None and len(images):
        return [images[i: i + 1].astype(np.float32) for i in range(min(steps, len(images)))]
    rng = np.random.default_rng(0)
    return [rng.uniform(0, 255, (1, input_size, input_size, 3)).astype(np.float32) for _ in range(steps)]


def to_onnx(model, input_size: int) -> bytes:
    """Raw-output ONNX bytes (opset 17, no NMS, like the TFLite rows; the export's ONNX always embeds NMS) of a
    Keras model with a fixed [1, S, S, 3] float32 input."""
    import tf2onnx

    from spinenet_lite.keras import tf

    signature = (tf.TensorSpec((1, input_size, input_size, 3), tf.float32, name="image"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=17)
    return proto.SerializeToString()


def convert(model, fmt: str, input_size: int, out_dir: Path, name: str,
            calibration: list[np.ndarray]) -> Path:
    """Write `model` in `fmt` to `out_dir/<name>_<fmt><suffix>` (atomically) and return the path."""
    from spinenet_lite.io import atomic_write_bytes

    path = Path(out_dir) / f"{name}_{fmt}{SUFFIX[fmt]}"
    if fmt.startswith("tflite-"):
        data = _shipped_tflite(model, fmt.split("-")[1], calibration)
    else:
        data = to_onnx(model, input_size)
    atomic_write_bytes(path, data)
    return path


def _shipped_tflite(model, precision: str, calibration: list[np.ndarray]) -> bytes:
    """The export's converter with raw outputs (no NMS, equal work for every model)."""
    from spinenet_lite.export import tflite as export_tflite

    anchors = np.zeros((int(model.output_shape["box_encodings"][1]), 4), np.float32)  # raw: anchors unused
    return export_tflite.convert(model, anchors, precision=precision, raw=True, calibration=lambda: calibration)


def _image(input_size: int) -> np.ndarray:
    return np.random.default_rng(2).uniform(0, 255, (1, input_size, input_size, 3)).astype(np.float32)


def file_runner(fmt: str, path: Path, threads: int) -> Runner:
    """A runner for an already converted .tflite / .onnx file."""
    path = Path(path)
    if not path.is_file():
        raise SpineNetLiteError(f"{path}: no such model file; give a .tflite or .onnx file")
    precision = "int8" if fmt == "tflite-int8" else "fp32"
    if fmt.startswith("tflite-"):
        interpreter = tflite.interpreter(path, threads)
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], tflite.cast_input(_image(int(detail["shape"][1])), detail))
        return Runner(fmt, threads, interpreter.invoke, path.stat().st_size, path, "tflite", precision)
    session = onnx.onnx_session(path, threads, onnx.onnx_providers())
    meta = session.get_inputs()[0]
    feed = {meta.name: _image(int(meta.shape[1]))}
    return Runner(fmt, threads, lambda: session.run(None, feed), path.stat().st_size, path, "onnx", "fp32",
                  provider=session.get_providers()[0])


def keras_runner(model, input_size: int, threads: int) -> Runner:
    """A runner calling the Keras model through one traced tf.function (inference mode)."""
    from spinenet_lite.keras import tf

    image = tf.constant(_image(input_size))
    call = tf.function(lambda x: model(x, training=False))

    def invoke():
        outputs = call(image)
        return [np.asarray(t) for t in tf.nest.flatten(outputs)]

    size = int(sum(np.asarray(w).nbytes for w in model.weights))
    return Runner("keras", threads, invoke, size, None, "keras", "fp32")


def tf_threads(threads: int) -> int:
    """Ask TF for `threads` intra-op threads and return the count it really uses.

    TF fixes its thread pool when it first runs an op; after that the request is ignored and the pool it has
    (0 = one per core) is what the Keras rows run with.
    """
    from spinenet_lite.keras import tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count() or 1


def file_format(path: Path) -> str:
    """The format label of an exported file: onnx, or tflite-int8 / tflite-fp32 from its input type."""
    path = Path(path)
    if path.suffix == ".onnx":
        return "onnx"
    detail = tflite.interpreter(path, 1).get_input_details()[0]
    return "tflite-int8" if detail["dtype"] in (np.uint8, np.int8) else "tflite-fp32"


def file_input_size(path: Path) -> int:
    """The square input size S of an exported [1, S, S, 3] model."""
    path = Path(path)
    if path.suffix == ".onnx":
        return int(onnx.onnx_session(path, 1).get_inputs()[0].shape[1])
    return int(tflite.interpreter(path, 1).get_input_details()[0]["shape"][1])
