"""What a benchmark measures: a Candidate per model (a registry name, a peer, a run folder, or exported files),
with its parameter and MAC counts and the paper's AP where there is one."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spinenet_lite.errors import SpineNetLiteError

# COCO AP the papers report (SpineNet Table 9 / Table 2, MobileNetV3 paper via Table 9): used for the plots only
# when no --data is given, and labelled "paper (COCO)".
PAPER_AP = {"spinenet49xxs": 16.9, "spinenet49xs": 23.7, "spinenet49s": 25.3, "spinenet49": 27.3,
            "mobilenetv3-small-ssdlite": 16.1, "mobilenetv3-large-ssdlite": 22.0,
            "spinenet49s-full": 40.6, "spinenet49-full": 42.7, "spinenet96-full": 47.8, "spinenet143-full": 49.2}


@dataclass
class Candidate:
    """A model to benchmark: a Keras model (converted here) and/or ready files per format."""

    name: str
    source: str
    input_size: int
    model: object | None = None
    files: dict[str, Path] = field(default_factory=dict)
    params_m: float | None = None
    macs_b: float | None = None
    paper_ap: float | None = None
    class_names: tuple = ()


def counts(model) -> tuple[float, float]:
    """(trainable parameters in millions, multiply-adds in billions) of a Keras model."""
    from spinenet_lite.counting import count_macs, count_params

    return count_params(model) / 1e6, count_macs(model) / 1e9


def resolve(spec: str, num_classes: int, input_size: int | None) -> Candidate:
    """A registry name, a run folder / checkpoint, or a .tflite / .onnx file -> Candidate."""
    from spinenet_lite.benchmarks.peers import PEERS, create_peer
    from spinenet_lite.models.registry import create_model, list_models, model_info

    path = Path(spec)
    if spec in list_models():
        info = model_info(spec)
        size = input_size or info.input_size
        model = create_model(spec, num_classes=num_classes, input_size=size)
        return Candidate(spec, "registry", size, model, {}, *counts(model), PAPER_AP.get(spec))
    if spec in PEERS:
        size = input_size or PEERS[spec].input_size
        model = create_peer(spec, num_classes, size)
        return Candidate(spec, "peer", size, model, {}, *counts(model), PAPER_AP.get(spec))
    if path.suffix in (".tflite", ".onnx"):
        from spinenet_lite.benchmarks.runtimes import file_format, file_input_size

        if not path.is_file():
            raise SpineNetLiteError(f"{path}: no such file; give a registry name, a run folder or an exported file")
        fmt = file_format(path)
        graph_counts = (None, None)
        if fmt.startswith("tflite"):  # counted from the graph: batch norm folded, so a little under Keras' params
            from spinenet_lite.benchmarks.graph_ops import summarize

            summary = summarize(path)
            graph_counts = (summary.params / 1e6, summary.total_macs / 1e9)
        return Candidate(path.stem, "file", file_input_size(path), None, {fmt: path}, *graph_counts)
    if path.exists():
        from spinenet_lite.runs import load_trained

        trained = load_trained(path)
        model = trained.model
        return Candidate(path.name if path.is_dir() else path.stem, "checkpoint", int(model.input_shape[1]), model,
                         {}, *counts(model), None, tuple(trained.class_names))
    from spinenet_lite.errors import suggest

    raise SpineNetLiteError(f"model {spec!r}: not a registered model, peer, run folder or file"
                            f"{suggest(spec, list_models() + list(PEERS))}; see `spinenet-lite models`")
