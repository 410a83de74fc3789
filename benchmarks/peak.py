"""The machine's limit, measured in the same run: peak multiply-adds per second of one big matrix product.

TFLite: a model that is one FullyConnected op ([M, K] x [K, N]), fp32 and full int8, run by ai-edge-litert
(XNNPACK) at the same thread count as the models. ONNX Runtime: one MatMul (fp32) and one MatMulInteger (uint8 x
int8). MACs/s = M * N * K / median time. A model's efficiency is its MACs / median latency / this peak.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from spinenet_lite.benchmarks.timing import Timing, time_fn

M, K, N = 256, 2048, 2048  # 1.07 G multiply-adds: long enough to time, short enough for a shared CPU


@dataclass(frozen=True)
class Peak:
    """Measured peak of one runtime x precision x thread count."""

    runtime: str  # "tflite" or "onnx"
    precision: str  # "fp32" or "int8"
    threads: int
    median_ms: float
    macs_per_s: float


def matmul_macs(m: int = M, k: int = K, n: int = N) -> int:
    """Multiply-adds of an [m, k] x [k, n] product."""
    return m * k * n


@lru_cache(maxsize=4)
def tflite_matmul(precision: str, m: int = M, k: int = K, n: int = N) -> bytes:
    """A TFLite flatbuffer holding one FullyConnected layer, fp32 or full int8 (int8 in and out)."""
    from spinenet_lite.export.tflite import configure_converter
    from spinenet_lite.keras import keras, tf

    inputs = keras.Input((k,), batch_size=m, name="a")
    outputs = keras.layers.Dense(n, use_bias=False, name="matmul")(inputs)
    model = keras.Model(inputs, outputs)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    rng = np.random.default_rng(0)
    calibration = [rng.uniform(-1, 1, (m, k)).astype(np.float32) for _ in range(2)]
    configure_converter(converter, precision, lambda: calibration, input_type="int8", output_type="int8")
    return converter.convert()


@lru_cache(maxsize=4)
def onnx_matmul(precision: str, m: int = M, k: int = K, n: int = N) -> bytes:
    """An ONNX model holding one MatMul (fp32) or MatMulInteger (uint8 x int8 -> int32)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if precision == "int8":
        weight = numpy_helper.from_array(rng.integers(-127, 128, (k, n), dtype=np.int8), "b")
        node = helper.make_node("MatMulInteger", ["a", "b"], ["y"])
        a_type, y_type = TensorProto.UINT8, TensorProto.INT32
    else:
        weight = numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "b")
        node = helper.make_node("MatMul", ["a", "b"], ["y"])
        a_type, y_type = TensorProto.FLOAT, TensorProto.FLOAT
    graph = helper.make_graph(
        [node], "peak_matmul",
        [helper.make_tensor_value_info("a", a_type, [m, k])],
        [helper.make_tensor_value_info("y", y_type, [m, n])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def peak_fn(runtime: str, precision: str, threads: int, m: int = M, k: int = K, n: int = N) -> Callable[[], object]:
    """One call of the big matrix product in `runtime` ("tflite" / "onnx") at `precision` and `threads`."""
    from spinenet_lite.runtimes.onnx import onnx_session
    from spinenet_lite.runtimes.tflite import interpreter as tflite_interpreter

    if runtime == "tflite":
        interpreter = tflite_interpreter(tflite_matmul(precision, m, k, n), threads)
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], _random_input(detail["shape"], detail["dtype"]))
        return interpreter.invoke
    if runtime == "onnx":
        session = onnx_session(onnx_matmul(precision, m, k, n), threads)
        meta = session.get_inputs()[0]
        feed = {meta.name: _random_input((m, k), np.uint8 if precision == "int8" else np.float32)}
        return lambda: session.run(None, feed)
    raise ValueError(f"no peak for runtime {runtime!r}")


def peak_from(runtime: str, precision: str, threads: int, timing: Timing, m: int = M, k: int = K,
              n: int = N) -> Peak:
    """The Peak of a timed `peak_fn` (MACs / median time)."""
    return Peak(runtime, precision, threads, timing.median_ms, matmul_macs(m, k, n) / (timing.median_ms / 1000.0))


def measure_peak(runtime: str, precision: str, threads: int, runs: int = 10, warmup: int = 2,
                 m: int = M, k: int = K, n: int = N) -> Peak:
    """Time the big matrix product alone (the harness times it interleaved with the models instead)."""
    timing = time_fn(peak_fn(runtime, precision, threads, m, k, n), runs=runs, warmup=warmup)
    return peak_from(runtime, precision, threads, timing, m, k, n)


def _random_input(shape, dtype) -> np.ndarray:
    rng = np.random.default_rng(1)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.uniform(-1, 1, tuple(shape)).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, tuple(shape), endpoint=True).astype(dtype)
