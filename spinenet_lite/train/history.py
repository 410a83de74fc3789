"""Per-epoch history of a run: `results.csv` (one row per epoch) and `results.png` (loss and mAP curves)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from spinenet_lite.io import atomic_write_bytes, atomic_write_text

COLUMNS = ("epoch", "step", "loss", "cls_loss", "box_loss", "lr", "AP", "AP50", "epoch_seconds", "images_per_second")


def read_history(path: Path) -> list[dict]:
    """Rows of results.csv as dicts of floats (empty list when the file does not exist yet)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()} for row in rows]


def write_history(path: Path, rows: list[dict]) -> None:
    """Rewrite results.csv atomically (a resumed run drops rows past its checkpoint first)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row.get(k, "")) for k in COLUMNS})
    atomic_write_text(path, buf.getvalue())


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.6g}"
    return str(value)


def plot_history(path: Path, rows: list[dict]) -> None:
    """results.png: training losses (left) and validation AP / AP50 (right) against epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("loss", "total"), ("cls_loss", "class (focal)"), ("box_loss", "box (Huber)")):
        left.plot(epochs, [r.get(key, float("nan")) for r in rows], marker="o", label=label)
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    left.set_yscale("log")
    left.legend()
    left.grid(alpha=0.3)
    evaluated = [r for r in rows if r.get("AP50", float("nan")) == r.get("AP50", float("nan"))]
    for key in ("AP", "AP50"):
        right.plot([r["epoch"] for r in evaluated], [r[key] for r in evaluated], marker="o", label=key)
    right.set_xlabel("epoch")
    right.set_ylabel("validation AP (points)")
    right.set_ylim(0, 100)
    right.legend()
    right.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
