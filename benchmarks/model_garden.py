"""The TF Model Garden SpineNet-Mobile files built by model_garden_env.sh, as benchmark candidates."""
from __future__ import annotations

import json
import os
from pathlib import Path

NOT_BUILT = "Model Garden: not built (run benchmarks/model_garden_env.sh)"
# Model Garden counts at 91 classes (paper_numbers.json, model_garden_reference_counts); ours are counted live.
REFERENCE = {"49XS": {"macs_b": 0.166, "params_m": 0.873}, "49S": {"macs_b": 0.496, "params_m": 1.031}}


def default_dir() -> Path:
    """~/.cache/spinenet-lite/model-garden (or $MG_OUT), where model_garden_env.sh writes."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "spinenet-lite" / "model-garden"
    return Path(os.environ.get("MG_OUT", cache))


def candidates(folder: str | os.PathLike | None = None) -> tuple[list, str]:
    """(Candidates for every built Model Garden model, a one-line status message)."""
    from spinenet_lite.benchmarks.candidates import Candidate

    folder = Path(folder) if folder else default_dir()
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return [], NOT_BUILT
    manifest = json.loads(manifest_path.read_text())
    found = []
    for entry in manifest["models"]:
        files = {fmt: folder / name for fmt, name in entry["files"].items() if (folder / name).is_file()}
        ref = REFERENCE.get(entry["model_garden_id"], {})
        found.append(Candidate(
            name=f"mg-{entry['model_garden_id']}", source=f"model-garden ({entry['ours']})",
            input_size=entry["input_size"], files=files, params_m=entry["params"] / 1e6,
            macs_b=ref.get("macs_b")))
    return found, f"Model Garden: {len(found)} models from {folder} (TF {manifest['tensorflow']})"


def ratios(rows: list) -> list[tuple[str, str, int, float, float, float]]:
    """(ours, format, threads, ours ms, theirs ms, ours / theirs) for every pair measured side by side."""
    theirs = {}
    for row in rows:
        if row.source.startswith("model-garden ("):
            theirs[(row.source[len("model-garden ("):-1], row.input_size, row.format, row.threads)] = row
    out = []
    for row in rows:
        match = theirs.get((row.model, row.input_size, row.format, row.threads))
        if match is not None and not row.source.startswith("model-garden"):
            out.append((row.model, row.format, row.threads, row.median_ms, match.median_ms,
                        row.median_ms / match.median_ms))
    return out


def ratio_markdown(rows: list) -> str:
    """The ours / Model Garden latency table (target: <= 0.9 for int8)."""
    from spinenet_lite.benchmarks.report import markdown_table

    return markdown_table(["model", "format", "threads", "ours ms", "Model Garden ms", "ours / theirs"],
                          [[m, f, str(t), f"{a:.2f}", f"{b:.2f}", f"{r:.2f}"] for m, f, t, a, b, r in ratios(rows)],
                          empty="No pair measured (benchmark spinenet49xxs / spinenet49xs with --model-garden).")
