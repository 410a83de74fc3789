"""The TFLite runtime (ai-edge-litert, the maintained successor of tflite-runtime, XNNPACK by default): loading a
model (after a check of its int8 scales, since XNNPACK aborts the process on some), feeding 0..255 pixels to any
input type, and the detect function of an exported .tflite."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.runtimes import DetectFn
from spinenet_lite.runtimes.runner import (artifact_path, detection_op_outputs, import_runtime, loading, per_image,
                                           raw_outputs)

# XNNPACK's int8 kernels take a requantization scale (input scale x weight scale / output scale for a convolution,
# the like for MUL and ADD) below 256. An activation that was constant on every calibration image (a dead ReLU
# channel) gets the converter's minimal range, scale 2e-6 / 255 = 7.8e-9, and the op writing it a scale of ~3000;
# the ai-edge-litert delegate then aborts the whole process ("double free") instead of failing cleanly.
MAX_REQUANTIZATION_SCALE = 256.0

def cast_input(batch: np.ndarray, detail: dict) -> np.ndarray:
    """Feed 0..255 float pixels to a float input or quantize them for an integer input."""
    dtype = detail["dtype"]
    if dtype == np.float32:
        return np.asarray(batch, np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(batch / (scale or 1.0) + zero), info.min, info.max).astype(dtype)


def dequantize(value: np.ndarray, detail: dict) -> np.ndarray:
    """An output tensor as float32 (integer outputs through their scale and zero point)."""
    if value.dtype in (np.float32, np.float16):
        return value.astype(np.float32)
    scale, zero = detail["quantization"]
    return (value.astype(np.float32) - zero) * (scale or 1.0)


def interpreter(model: bytes | str | os.PathLike, threads: int = 1):
    """An allocated ai-edge-litert interpreter at `threads`, from flatbuffer bytes or a file (read once: checked,
    then loaded); a file that does not load gives one line naming it."""
    litert = import_runtime("ai_edge_litert.interpreter", "ai-edge-litert")
    in_memory = isinstance(model, (bytes, bytearray))
    where = "tflite model" if in_memory else str(model)
    content = bytes(model) if in_memory else Path(model).read_bytes()
    check_int8_ranges(content, where)
    with loading(where, "TFLite", (ValueError, RuntimeError)):
        loaded = litert.Interpreter(model_content=content, num_threads=int(threads))
        loaded.allocate_tensors()
    return loaded


class TFLiteRunner:
    """One TFLite model in an ai-edge-litert Interpreter; `run(image)` returns its outputs by name, dequantized."""

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        self.path = artifact_path(path, "TFLite", "--tflite")
        self.interpreter = interpreter(self.path, threads)
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
        self.interpreter.set_tensor(self.input["index"], cast_input(batch, self.input))
        self.interpreter.invoke()
        return {d["name"]: dequantize(self.interpreter.get_tensor(d["index"]), d) for d in self.outputs}


def tflite_detect_fn(path: str | os.PathLike, threads: int = 1, **postprocess_kwargs) -> DetectFn:
    """A detect function for an exported .tflite (with the detection op, or --raw outputs decoded here)."""
    runner = TFLiteRunner(path, threads)
    if not runner.is_raw:
        return per_image(runner, detection_op_outputs)
    return per_image(runner, raw_outputs(runner.input_size, **postprocess_kwargs))


def check_int8_ranges(flatbuffer: bytes, where: str) -> None:
    """Raise, naming the tensor, when an int8 op's requantization scale is out of XNNPACK's range.

    Called before any interpreter sees the model, because the runtime's failure is a process abort, not an error.
    """
    for op, name, scale in requantization_scales(flatbuffer):
        if scale >= MAX_REQUANTIZATION_SCALE:
            raise SpineNetLiteError(
                f"{where}: int8 {op} writing '{name.split(';')[0]}' has a requantization scale of {scale:.0f} "
                f"(XNNPACK takes < {MAX_REQUANTIZATION_SCALE:.0f}): its output was constant on every calibration "
                "image, e.g. a dead ReLU channel, and XNNPACK would crash on it; export --fp16, or retrain / "
                "calibrate so that it varies")


_PRODUCT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MUL")  # scale = in0 x in1 / out
_SUM_OPS = ("ADD", "SUB")  # scale = each input / out


def requantization_scales(flatbuffer: bytes) -> list[tuple[str, str, float]]:
    """(op, output tensor name, largest requantization scale) of every quantized product / sum op.

    [] when `flatbuffer` is not a model: the interpreter that loads it reports that, naming the file.
    """
    from ai_edge_litert import schema_py_generated as schema

    names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    found = []
    try:
        model = schema.Model.GetRootAs(flatbuffer, 0)
        subgraph = model.Subgraphs(0)
        codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]

        def scale(index: int, pick) -> float | None:
            quant = subgraph.Tensors(index).Quantization() if index >= 0 else None
            return float(pick(quant.ScaleAsNumpy())) if quant is not None and quant.ScaleLength() else None

        for i in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(i)
            code = codes[op.OpcodeIndex()]
            name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "")
            if name not in _PRODUCT_OPS + _SUM_OPS or op.InputsLength() < 2:
                continue
            out = scale(op.Outputs(0), min)
            ins = [scale(op.Inputs(k), max) for k in range(2)]
            if out is None or None in ins:
                continue
            value = ins[0] * ins[1] / out if name in _PRODUCT_OPS else max(ins) / out
            found.append((name, subgraph.Tensors(op.Outputs(0)).Name().decode(), value))
    except Exception:
        return []
    return found
