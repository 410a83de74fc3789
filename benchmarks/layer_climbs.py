"""How often a run's calls climb back up the module layers: the layering figure of docs/results.md.

A module's layer is its depth in the package's import graph (imports inside functions included): 0 for a module
that imports no other project module, else one more than the deepest module it imports. A call climbs when a
function of one project module calls (directly, or through library code such as Keras or tf.data) a function of a
project module on a higher layer: the lower module then depends at run time on one it must not import.
Callbacks handed down on purpose (a model builder to the trainer, a detect function to the evaluator) count too.

The script traces every Python call (sys.setprofile) of a tiny `train` run and a tiny quickstart and prints, for
each, the distinct climbing (caller -> callee) module pairs and the number of project files the calls ran in.

    python benchmarks/layer_climbs.py --out /tmp/layer_climbs
"""
from __future__ import annotations

import ast
import sys
import threading
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"spinenet_lite": ROOT / "spinenet_lite", "spinenet_lite.export": ROOT / "export",
            "spinenet_lite.benchmarks": ROOT / "benchmarks"}
TINY = ("model.input_size=64", "data.synthetic_images=40", "train.epochs=1", "train.batch_size=8",
        "train.warmup_steps=1", "train.eval_every=1", "export.calibration_images=8")


def modules() -> dict[str, Path]:
    """Project module name -> file, with export/ and benchmarks/ as the installed package maps them."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [p for p in path.relative_to(folder).with_suffix("").parts if p != "__init__"]
            if package == "spinenet_lite" and parts and parts[0] in ("export", "benchmarks"):
                continue
            found[".".join([package, *parts])] = path
    return found


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (at top level or inside functions)."""
    def owner(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + [base]).strip(".")
                targets.add(base)
                targets.update(f"{base}.{alias.name}" for alias in node.names)
        resolved = {owner(t) for t in targets} - {None, name}
        # a package and its own submodules are one unit, as the import-cycle check treats them
        graph[name] = {t for t in resolved if not name.startswith(t + ".") and not t.startswith(name + ".")}
    return graph


def layers(graph: dict[str, set[str]]) -> dict[str, int]:
    """Depth of every module in the import graph (0: imports no project module)."""
    depth: dict[str, int] = {}

    def visit(name: str, seen: tuple = ()) -> int:
        if name not in depth:
            deeper = [visit(t, seen + (name,)) for t in graph[name] if t not in seen]
            depth[name] = 1 + max(deeper) if deeper else 0
        return depth[name]

    for name in graph:
        visit(name)
    return depth


class CallTrace:
    """Records (caller module, callee module) for every call between project modules while active."""

    def __init__(self, mods: dict[str, Path]):
        self.by_file = {str(path): name for name, path in mods.items()}
        self.edges: set[tuple[str, str]] = set()
        self.files: set[str] = set()

    def _module(self, frame) -> str | None:
        return self.by_file.get(frame.f_code.co_filename)

    def profile(self, frame, event, arg):
        if event != "call":
            return
        callee = self._module(frame)
        if callee is None:
            return
        self.files.add(callee)
        caller = frame.f_back
        while caller is not None and self._module(caller) is None:  # through library code to its project caller
            caller = caller.f_back
        if caller is not None and self._module(caller) != callee:
            self.edges.add((self._module(caller), callee))

    def __enter__(self):
        threading.setprofile(self.profile)
        sys.setprofile(self.profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)
        threading.setprofile(None)


def report(title: str, trace: CallTrace, depth: dict[str, int]) -> list[str]:
    climbs = sorted((a, b) for a, b in trace.edges if depth[b] > depth[a])
    files = {m for pair in climbs for m in pair}
    lines = [f"{title}: {len(trace.files)} project files ran; {len(climbs)} calls climb a layer, "
             f"across {len(files)} files"]
    lines += [f"  {a} ({depth[a]}) -> {b} ({depth[b]})" for a, b in climbs]
    return lines


@click.command()
@click.option("--out", default="runs/layer_climbs", show_default=True, help="Folder for the two tiny runs.")
def main(out: str) -> None:
    """Trace a tiny `train` run and a tiny quickstart (int8 export and its gate included)."""
    mods = modules()
    depth = layers(import_graph(mods))
    from spinenet_lite.config import load_recipe
    from spinenet_lite.quickstart import run_quickstart
    from spinenet_lite.train.trainer import train

    recipe = load_recipe("quickstart", list(TINY))
    with CallTrace(mods) as trained:
        train(recipe, Path(out) / "train", progress=False, exist_ok=True)
    with CallTrace(mods) as quick:
        run_quickstart(Path(out) / "quickstart", overrides=TINY, progress=False)
    for line in report("train", trained, depth) + report("quickstart", quick, depth):
        click.echo(line)


if __name__ == "__main__":
    main()
