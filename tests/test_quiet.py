"""Quiet output: no TensorFlow start-up, GPU-probe or converter chatter on stderr; real problems still show."""
import os
import subprocess
import sys

import pytest

from spinenet_lite.quiet import drop_noise, has_nvidia_driver

NOISE_MARKERS = ("absl::InitializeLog", "cuInit", "oneDNN", "cudart_stub", "fully_quantize", "I0000", "E0000",
                 "unsaved custom gradients")

# Lines as TensorFlow 2.21 writes them on a CPU machine without an NVIDIA driver.
CHATTER = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796090501.497436   22314 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796090501.497751   22314 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796088746.648771    7248 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1796090528.460337   22314 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
fully_quantize: 0, inference_type: 6, input_inference_type: UINT8, output_inference_type: FLOAT32
"""
REAL = """\
E0000 00:00:1796090528.460337   22314 op_kernel.cc:1857] OP_REQUIRES failed at strided_slice_op.cc:117 : INVALID_ARGUMENT
Traceback (most recent call last):
error: runs/x: no best.weights.h5 or last.weights.h5; train first or pass a weights file
"""


@pytest.mark.skipif(has_nvidia_driver(), reason="the cuInit line is kept where a driver exists")
def test_chatter_is_dropped_and_real_problems_kept():
    assert drop_noise(CHATTER) == ""
    assert drop_noise(CHATTER[:200] + "\n" + REAL) == REAL


def _stderr(code: str, **env) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, **env))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


@pytest.mark.skipif(has_nvidia_driver(), reason="a GPU machine logs its devices")
def test_importing_tensorflow_is_silent_unless_asked():
    code = "import spinenet_lite.keras"
    assert _stderr(code) == ""
    loud = _stderr(code, TF_CPP_MIN_LOG_LEVEL="1")  # the user asked for TensorFlow's logs: all of them show
    assert "cuInit" in loud and "absl::InitializeLog" in loud


INT8_CONVERT = """
import numpy as np
from spinenet_lite.anchors import generate_anchors
from spinenet_lite.export.tflite import convert
from spinenet_lite.models.registry import create_model

rng = np.random.default_rng(0)
model = create_model("spinenet49xxs", num_classes=2, input_size=64, head_convs=1)
images = lambda: (rng.uniform(0, 255, (1, 64, 64, 3)).astype(np.float32) for _ in range(2))
print(len(convert(model, generate_anchors(64), "int8", calibration=images)))
"""


@pytest.mark.skipif(has_nvidia_driver(), reason="a GPU machine logs its devices")
def test_int8_conversion_prints_no_chatter(tmp_path):
    """The int8 converter's quantizer printed its settings (`fully_quantize: 0, inference_type: 6, ...`) unless
    filtered."""
    env = dict(os.environ, SPINENET_LITE_CACHE=str(tmp_path / "cache"))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    int8 = subprocess.run([sys.executable, "-c", INT8_CONVERT], capture_output=True, text=True, env=env, timeout=1200)
    assert int8.returncode == 0 and int(int8.stdout.strip()) > 100_000, int8.stderr[-3000:]
    assert not [m for m in NOISE_MARKERS if m in int8.stderr], int8.stderr


@pytest.mark.slow
@pytest.mark.skipif(has_nvidia_driver(), reason="a GPU machine logs its devices")
def test_train_and_export_print_no_chatter(tmp_path):
    """The CLI as a user runs it: train, then export."""
    env = dict(os.environ, SPINENET_LITE_CACHE=str(tmp_path / "cache"))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    sets = ["model.input_size=64", "model.overrides={head_convs: 1}", "data.synthetic_images=40",
            "train.batch_size=4", "train.epochs=1", "train.freeze_bn_epochs=0"]
    cli = [sys.executable, "-m", "spinenet_lite"]
    train = subprocess.run([*cli, "train", "quickstart", "--no-progress", "--project", str(tmp_path), "--name", "q",
                            *[a for s in sets for a in ("--set", s)]], capture_output=True, text=True, env=env,
                           timeout=1200)
    assert train.returncode == 0, train.stderr[-3000:]
    export = subprocess.run([*cli, "export", str(tmp_path / "q"), "--tflite", "--fp16", "--no-gate"],
                            capture_output=True, text=True, env=env, timeout=1200)
    assert export.returncode == 0, export.stderr[-3000:]
    assert (tmp_path / "q" / "export").is_dir()
    for stderr in (train.stderr, export.stderr):
        assert not [m for m in NOISE_MARKERS if m in stderr], stderr
