"""Plain-text tables of COCO metrics (the headline AP columns and per-class AP), as `spinenet-lite eval` prints them.

Metric values are AP points 0..100, as the paper reports them; -1 is COCO's "no ground truth in this range"
and prints as "n/a". Pure Python, no TensorFlow, so CLI modules may import it at top level.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

# The headline COCO columns, in the order every table prints them.
AP_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def format_value(value: Any, digits: int = 1) -> str:
    """One cell: floats with `digits` decimals, -1 / NaN / None as "n/a", everything else via str()."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        value = float(value)
        if math.isnan(value) or value == -1.0:
            return "n/a"
        return f"{value:.{digits}f}"
    return str(value)


def format_metrics_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, digits: int = 1
) -> str:
    """Align rows of {column: value} into a text table with a header and a rule.

    `columns` defaults to the union of the rows' keys in first-seen order; nested values (dicts, lists,
    such as `per_class` or `detections`) are skipped unless named in `columns`.
    """
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            for key, value in row.items():
                if not isinstance(value, (dict, list, tuple)):
                    seen.setdefault(key, None)
        columns = list(seen)
    cells = [[format_value(row.get(col), digits) if col in row else "" for col in columns] for row in rows]
    widths = [max([len(col)] + [len(r[i]) for r in cells]) for i, col in enumerate(columns)]
    left = [all(_is_text(row.get(col)) for row in rows) for col in columns]

    def line(values: Iterable[str]) -> str:
        parts = [v.ljust(w) if lft else v.rjust(w) for v, w, lft in zip(values, widths, left)]
        return "  ".join(parts).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out)


def metrics_row(metrics: Mapping[str, Any], **extra: Any) -> dict:
    """The headline columns of a metrics dict (AP .. APl), with extra leading columns such as model=..."""
    row = dict(extra)
    row.update({k: metrics[k] for k in AP_KEYS if k in metrics})
    return row


def format_per_class(metrics: Mapping[str, Any], digits: int = 1) -> str:
    """A two-column table class -> AP (at IoU 0.50:0.95) from a metrics dict's `per_class`."""
    per_class = metrics.get("per_class") or {}
    rows = [{"class": name, "AP": ap} for name, ap in per_class.items()]
    return format_metrics_table(rows, ["class", "AP"], digits) if rows else "(no classes)"


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)
