"""The FORMATS table: what each export format accepts, checked before any work starts. It drives the export
(each format's module writes its artifacts through one `write(target, path, model, anchors, class_names, recipe,
calibration)`) and the CLI (one `--<name>` flag per format, one `--<precision>` flag per non-default precision)."""
from __future__ import annotations

from dataclasses import dataclass

from spinenet_lite.errors import SpineNetLiteError, suggest


@dataclass(frozen=True)
class Format:
    """One export format: its file suffix, the precisions it accepts (the first is its default), whether --raw
    applies, its module, the packages it needs, and its CLI help."""

    name: str
    suffix: str
    precisions: tuple[str, ...]
    raw: bool
    module: str  # spinenet_lite.export.<module>, imported lazily
    requires: tuple[str, ...]  # importable packages the converter needs
    help: str


FORMATS: dict[str, Format] = {
    "tflite": Format("tflite", ".tflite", ("fp32", "fp16", "int8"), True, "tflite", ("tensorflow", "ai_edge_litert"),
                     "Export TFLite (ends in TFLite_Detection_PostProcess, with metadata)."),
    "onnx": Format("onnx", ".onnx", ("fp32",), False, "onnx", ("tf2onnx", "onnxruntime"),
                   "Export ONNX (opset 17, NMS in the graph) for onnxruntime."),
    "coreml": Format("coreml", ".mlpackage", ("fp16",), False, "coreml", ("coremltools",),
                     "Export Core ML (mlprogram, fp16; pipeline with NMS for Vision). Runs on macOS only."),
}
# The precisions a flag can ask for (fp32 is every format's default where it has one), with their CLI help.
PRECISION_FLAGS: dict[str, str] = {
    "int8": "TFLite full-integer int8 (QAT ranges or calibration).",
    "fp16": "TFLite with fp16 weights.",
}


@dataclass(frozen=True)
class Target:
    """One artifact to produce: format + precision + raw outputs or not."""

    format: str
    precision: str
    raw: bool = False

    @property
    def label(self) -> str:
        return f"{self.format}-{self.precision}{'-raw' if self.raw else ''}"

    @property
    def filename(self) -> str:
        suffix = FORMATS[self.format].suffix
        return f"model_{self.precision}{'_raw' if self.raw else ''}{suffix}"


def plan_targets(formats: list[str] | tuple[str, ...], precision: str | None = None, raw: bool = False) -> list[Target]:
    """Turn the requested formats and options into targets; unknown combinations raise before any work starts.

    `precision` applies to TFLite (fp32 default); ONNX is fp32 and Core ML fp16 (mlprogram) by construction.
    """
    if not formats:
        raise SpineNetLiteError(f"export: no format chosen; pick one or more of {', '.join('--' + f for f in FORMATS)}")
    targets = []
    for name in formats:
        if name not in FORMATS:
            raise SpineNetLiteError(f"export: unknown format {name!r}{suggest(name, FORMATS)}; known: {', '.join(FORMATS)}")
        fmt = FORMATS[name]
        prec = precision if (precision and name == "tflite") else fmt.precisions[0]
        if precision and name != "tflite" and precision not in fmt.precisions:
            raise SpineNetLiteError(
                f"export: --{precision} does not apply to {name} (it accepts {', '.join(fmt.precisions)}); "
                f"export {name} in a separate run or drop --{precision}")
        if prec not in fmt.precisions:
            raise SpineNetLiteError(f"export: {name} does not accept --{prec}; choose one of {', '.join(fmt.precisions)}")
        if raw and not fmt.raw:
            raise SpineNetLiteError(f"export: --raw applies only to tflite, not {name}; drop --raw or --{name}")
        targets.append(Target(name, prec, raw if fmt.raw else False))
    return targets


def check_installed(targets: list[Target]) -> None:
    """Fail early, with the pip command, when a converter or runtime a target needs is not installed."""
    import importlib.util

    for target in targets:
        for package in FORMATS[target.format].requires:
            if importlib.util.find_spec(package) is None:
                raise SpineNetLiteError(
                    f"export --{target.format}: the converter package {package!r} is not installed; "
                    f"run: pip install 'spinenet-lite[export]'")
