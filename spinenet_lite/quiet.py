"""TensorFlow's start-up and converter chatter kept off the terminal; lines that signal a problem still show.

TF_CPP_MIN_LOG_LEVEL=2 (set at package import) hides TensorFlow's C++ INFO and WARNING lines only once absl
logging is initialised. The lines its import writes before that (the oneDNN notice, the CUDA stub, the CPU
features), the GPU probe's cuInit failure on a machine without an NVIDIA driver and the TFLite quantizer's
settings line bypass it, and a user reads them as errors. `quiet_stderr()` captures file descriptor 2 around such
a block and writes back every other line (everything, when the block raises). TF_CPP_MIN_LOG_LEVEL=0 or 1 shows
all of it again.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

# Lines dropped wherever they appear in a captured block.
NOISE = tuple(re.compile(p) for p in (
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] ",  # TensorFlow's C++ INFO and WARNING lines
    r"To enable the following instructions: .*rebuild TensorFlow",  # second line of the CPU-features notice
    r"fully_quantize: \d+, inference_type: \d+",  # the TFLite quantizer's settings
))
# The GPU probe's failure, noise only where there is no NVIDIA driver to fail.
NO_DRIVER_NOISE = (re.compile(r"E\d{4} [\d:.]+ +\d+ \S+:\d+\] failed call to cuInit"),)
# Python-side warnings of TensorFlow's absl logger that describe a step working as intended: the exporters save
# their serving function without custom gradients on purpose and never ask the loaded copy for gradients.
PYTHON_NOISE = (re.compile(r"Importing a function \(\S+\) with ops with unsaved custom gradients"),)


def verbose() -> bool:
    """True when the user asked for TensorFlow's own logs (TF_CPP_MIN_LOG_LEVEL 0 or 1)."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2").strip() in ("0", "1")


def has_nvidia_driver() -> bool:
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidiactl").exists()


def drop_noise(text: str) -> str:
    """`text` without the lines that are start-up or converter chatter."""
    patterns = NOISE + (() if has_nvidia_driver() else NO_DRIVER_NOISE)
    return "".join(line for line in text.splitlines(keepends=True) if not any(p.match(line) for p in patterns))


@contextlib.contextmanager
def quiet_stderr():
    """Run the block with file descriptor 2 captured; then write its lines back, less the chatter."""
    if verbose():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no file descriptor 2 to capture
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            text = text if failed else drop_noise(text)
            if text:
                sys.stderr.write(text)
                sys.stderr.flush()


class _DropPythonNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return verbose() or not any(p.search(record.getMessage()) for p in PYTHON_NOISE)


def quiet_python_logs() -> None:
    """Drop the PYTHON_NOISE records of the `absl` logger (TensorFlow's Python warnings go through it)."""
    logger = logging.getLogger("absl")
    if not any(isinstance(f, _DropPythonNoise) for f in logger.filters):
        logger.addFilter(_DropPythonNoise())
