"""Mixed precision and XLA for the train step: the recipe's `train.precision` and `train.jit_compile`.

Mixed precision is tf_keras': layers compute in bfloat16 or float16 while their variables stay float32, the
detector's output layers compute in float32 (so losses and outputs are float32), and float16 training scales the
loss so small gradients do not flush to zero. Only the training model is built under the policy: a run's saved
weights are float32 and `load_trained` rebuilds a float32 model, so evaluation and export do not change.
"""
from __future__ import annotations

import contextlib

from spinenet_lite.errors import SpineNetLiteError, suggest

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
JIT_SETTINGS = ("auto", "true", "false")


def check_precision(name: str) -> str:
    """`name` if it is a known precision, else one clear error."""
    if name not in PRECISIONS:
        raise SpineNetLiteError(f"train.precision: unknown precision {name!r}{suggest(name, PRECISIONS)}; "
                                f"use one of {', '.join(PRECISIONS)}")
    return name


@contextlib.contextmanager
def precision_policy(name: str):
    """Layers created inside compute in `name` (a tf_keras dtype policy); the global policy is restored after."""
    from spinenet_lite.keras import keras

    check_precision(name)
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def loss_scaled(optimizer, precision: str):
    """The optimizer to train with: float16 wraps it in tf_keras' dynamic LossScaleOptimizer."""
    from spinenet_lite.keras import keras

    if check_precision(precision) == "mixed_float16":
        return keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer


def resolve_jit(setting: str | bool, strategy) -> bool:
    """Whether the train step is XLA-compiled: `auto` means on for GPUs and TPUs, off on CPUs (where XLA's
    convolutions lose to oneDNN's). A TPU compiles every step, so `false` there is an error."""
    from spinenet_lite.keras import tf

    value = str(setting).lower()
    if value not in JIT_SETTINGS:
        raise SpineNetLiteError(f"train.jit_compile: {setting!r} is not one of {', '.join(JIT_SETTINGS)}")
    tpu = is_tpu(strategy)
    if value == "false" and tpu:
        raise SpineNetLiteError("train.jit_compile: false is impossible on a TPU (every TPU step is XLA-compiled); "
                                "use auto or true")
    if value == "auto":
        return tpu or bool(tf.config.list_logical_devices("GPU"))
    return value == "true"


def is_tpu(strategy) -> bool:
    from spinenet_lite.keras import tf

    return isinstance(strategy, (tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy))
