"""Benchmark results as rows: the on-screen table, results.csv and results.md."""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from spinenet_lite.io import atomic_write_text


@dataclass
class Row:
    """One model x format x thread count, measured in this run."""

    model: str
    source: str  # registry / checkpoint / file / peer / model-garden / full-size
    input_size: int
    format: str
    threads: int
    median_ms: float
    p90_ms: float
    throughput: float  # images / s at the median
    size_mb: float | None
    params_m: float | None
    macs_b: float | None
    ap: float | None = None
    ap50: float | None = None
    ap_source: str = ""  # "data: <path>" or "paper (COCO)"
    gmacs_per_s: float | None = None
    peak_fraction: float | None = None  # achieved MACs/s / peak MACs/s of the same runtime, precision, threads
    provider: str = ""
    note: str = ""


COLUMNS = [
    ("model", "model", "{}"), ("input", "input_size", "{}"), ("format", "format", "{}"), ("thr", "threads", "{}"),
    ("median ms", "median_ms", "{:.2f}"), ("p90 ms", "p90_ms", "{:.2f}"), ("img/s", "throughput", "{:.1f}"),
    ("MB", "size_mb", "{:.2f}"), ("params M", "params_m", "{:.3f}"), ("MACs B", "macs_b", "{:.3f}"),
    ("AP", "ap", "{:.1f}"), ("AP50", "ap50", "{:.1f}"), ("GMAC/s", "gmacs_per_s", "{:.1f}"),
    ("% peak", "peak_fraction", "{:.0%}"),
]


def _cell(row: Row, attr: str, fmt: str) -> str:
    value = getattr(row, attr)
    return "-" if value is None or value == "" else fmt.format(value)


def table_lines(rows: list[Row]) -> list[list[str]]:
    """Header plus one list of formatted cells per row."""
    lines = [[title for title, _, _ in COLUMNS]]
    lines += [[_cell(r, attr, fmt) for _, attr, fmt in COLUMNS] for r in rows]
    return lines


def format_table(rows: list[Row]) -> str:
    """A fixed-width text table for the terminal."""
    lines = table_lines(rows)
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    out = ["  ".join(cell.rjust(w) if i > 0 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths)))
           for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(header: list[str], body: list[list[str]], empty: str | None = None) -> str:
    """A GitHub Markdown table from a header and rows of cell strings; `empty` (if given) replaces a table with
    no rows."""
    if not body and empty is not None:
        return empty
    md = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    md += ["| " + " | ".join(line) + " |" for line in body]
    return "\n".join(md)


def format_markdown(rows: list[Row]) -> str:
    """The benchmark rows as a GitHub Markdown table."""
    lines = table_lines(rows)
    return markdown_table(lines[0], lines[1:])


def write_csv(rows: list[Row], path: Path) -> None:
    """All fields of every row, full precision."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(Row)])
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    atomic_write_text(path, buffer.getvalue())


def read_csv(path: Path) -> list[dict]:
    """Rows of a results.csv as dicts of strings (for tests and comparisons)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_markdown(sections: list[tuple[str, str]], path: Path) -> None:
    """results.md: a title per section followed by its Markdown body."""
    text = "# spinenet-lite benchmark\n\n" + "\n\n".join(f"## {title}\n\n{body}" for title, body in sections)
    atomic_write_text(path, text + "\n")


def peaks_markdown(peaks: dict) -> str:
    """The machine peak of each runtime x precision x threads as a Markdown table."""
    lines = ["| runtime | precision | threads | ms | GMAC/s |", "|---|---|---|---|---|"]
    lines += [f"| {p.runtime} | {p.precision} | {p.threads} | {p.median_ms:.2f} | {p.macs_per_s / 1e9:.1f} |"
              for p in peaks.values()]
    return "\n".join(lines)
