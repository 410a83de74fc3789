"""The CLI surface: every subcommand answers --help without importing TensorFlow, errors are one line."""
import subprocess
import sys

import pytest

from spinenet_lite.cli import COMMANDS


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spinenet_lite", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_does_not_import_tensorflow(name):
    module = COMMANDS[name][0]
    code = (
        "import sys, importlib; "
        f"importlib.import_module({module!r}); "
        "heavy = [m for m in ('tensorflow', 'tf_keras', 'onnxruntime', 'coremltools') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{module} imports heavy modules at import time: {proc.stdout}{proc.stderr}"
    proc = _run(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout


def test_unknown_command_suggests():
    proc = _run("trian")
    assert proc.returncode != 0
    assert 'did you mean "train"' in proc.stderr


def test_project_error_is_one_line():
    proc = _run("train", "no/such/recipe.yaml")
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "no/such/recipe.yaml" in lines[0]
