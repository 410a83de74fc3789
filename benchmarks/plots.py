"""The paper's Figure 6 views of a benchmark: latency vs AP and MACs vs AP, one point per model."""
from __future__ import annotations

from pathlib import Path

from spinenet_lite.benchmarks.report import Row

PREFERRED = ("tflite-int8", "tflite-fp32", "onnx", "tflite-fp16", "keras")


def _points(rows: list[Row]) -> tuple[str, int, list[Row]]:
    """One row per model: the preferred format at the lowest thread count measured."""
    formats = {r.format for r in rows}
    fmt = next((f for f in PREFERRED if f in formats), rows[0].format)
    threads = min(r.threads for r in rows if r.format == fmt)
    return fmt, threads, [r for r in rows if r.format == fmt and r.threads == threads and r.ap is not None]


def _plot(points: list[Row], x_attr: str, xlabel: str, title: str, path: Path, ap_label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spinenet_lite.io import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    for family, marker in (("spinenet", "o"), ("mobilenet", "s"), ("mg-", "^"), ("", "x")):
        chosen = [p for p in points if p.model.startswith(family) and getattr(p, x_attr) is not None]
        points = [p for p in points if p not in chosen]
        if chosen:
            ax.plot([getattr(p, x_attr) for p in chosen], [p.ap for p in chosen], marker, linestyle="-" if
                    family == "spinenet" else "", label=family.rstrip("-") or "other")
            for p in chosen:
                ax.annotate(p.model, (getattr(p, x_attr), p.ap), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ap_label)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # files timed without a known x value plot no series
        ax.legend(fontsize=8)
    import io

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def write_plots(rows: list[Row], out_dir: Path) -> list[Path]:
    """latency_vs_ap.png and macs_vs_ap.png in `out_dir`; AP is labelled with where it came from."""
    fmt, threads, points = _points(rows)
    sources = sorted({p.ap_source for p in points if p.ap_source})
    ap_label = "AP (" + "; ".join(sources) + ")" if sources else "AP"
    out = [Path(out_dir) / "latency_vs_ap.png", Path(out_dir) / "macs_vs_ap.png"]
    _plot(points, "median_ms", f"median latency, ms ({fmt}, {threads} thread(s), this machine)",
          "Latency vs AP", out[0], ap_label)
    _plot(points, "macs_b", "multiply-adds, billions", "MACs vs AP (paper Figure 6)", out[1], ap_label)
    return out
