"""What a .tflite graph is made of: ops by type, MACs by op type, and the ops XNNPACK leaves to the interpreter.

Used to explain a latency gap between two files that do about the same work (ours vs the Model Garden, ours vs a
peer): the Python interpreter has no op profiler, but op counts, where the MACs sit and how many partitions the
XNNPACK delegate made say most of it. `python -m spinenet_lite.benchmarks.graph_ops a.tflite b.tflite`
"""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


@dataclass
class GraphSummary:
    """Ops by type, MACs by op type and the XNNPACK partition count of one .tflite file."""

    path: Path
    ops: Counter
    macs: Counter
    partitions: int
    params: int = 0  # distinct weights of the MAC ops plus one bias per output channel (batch norm folded in)

    @property
    def total_macs(self) -> int:
        return sum(self.macs.values())


def _op_macs(op: dict, shapes: dict) -> int:
    """Multiply-adds of one conv / depthwise / fully-connected op from its tensor shapes (0 for other ops)."""
    name = op["op_name"]
    if name not in _MAC_OPS:
        return 0
    out = shapes[op["outputs"][0]]
    weights = shapes[op["inputs"][1]]
    if name == "CONV_2D":  # weights [Cout, kh, kw, Cin]
        return int(np.prod(out[:-1]) * np.prod(weights))
    if name == "DEPTHWISE_CONV_2D":  # weights [1, kh, kw, C * multiplier]
        return int(np.prod(out) * weights[1] * weights[2])
    return int(np.prod(out) * weights[-1])  # FULLY_CONNECTED: weights [Cout, Cin]


def summarize(path: str | Path) -> GraphSummary:
    """Op counts (delegate nodes excluded), MACs by op type and XNNPACK partitions (DELEGATE nodes) of a file."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    shapes = {t["index"]: tuple(t["shape"]) for t in interpreter.get_tensor_details()}
    ops, macs = Counter(), Counter()
    partitions = 0
    weights: dict[bytes, int] = {}  # a shared head conv appears once per level, with the same weights
    for op in interpreter._get_ops_details():  # the only per-node view the Python API offers
        if op["op_name"] == "DELEGATE":
            partitions += 1
            continue
        ops[op["op_name"]] += 1
        macs[op["op_name"]] += _op_macs(op, shapes)
        if op["op_name"] in _MAC_OPS:
            weight = op["inputs"][1]
            outputs = shapes[weight][-1] if op["op_name"] == "DEPTHWISE_CONV_2D" else shapes[weight][0]
            weights[interpreter.get_tensor(weight).tobytes()] = int(np.prod(shapes[weight])) + int(outputs)
    return GraphSummary(Path(path), ops, macs, partitions, sum(weights.values()))


def compare_markdown(summaries: list[GraphSummary]) -> str:
    """One Markdown table: a row per op type, a column of counts (and GMACs) per file."""
    names = sorted(set().union(*(s.ops for s in summaries)), key=lambda n: -max(s.ops[n] for s in summaries))
    head = "| op | " + " | ".join(s.path.name for s in summaries) + " |"
    lines = [head, "|---|" + "---|" * len(summaries)]
    for name in names:
        cells = [f"{s.ops[name]}" + (f" ({s.macs[name] / 1e9:.3f} GMAC)" if s.macs[name] else "") for s in summaries]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| total MACs | " + " | ".join(f"{s.total_macs / 1e9:.3f} G" for s in summaries) + " |")
    lines.append("| XNNPACK partitions | " + " | ".join(str(s.partitions) for s in summaries) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    print(compare_markdown([summarize(p) for p in paths]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
