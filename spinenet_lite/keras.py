"""The one place TensorFlow and tf_keras are imported from, with the legacy-Keras switch already set.

The import and the GPU probe run with their start-up chatter filtered (see `spinenet_lite.quiet`), so a plain CPU
machine shows no CUDA or oneDNN lines.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from spinenet_lite.quiet import quiet_python_logs, quiet_stderr  # noqa: E402

with quiet_stderr():
    import tensorflow as tf
    import tf_keras as keras

    # The platforms initialise here (listing devices does not start the runtime, so logical devices can still
    # be configured afterwards); without an NVIDIA driver the CUDA platform's failed cuInit is logged now.
    tf.config.list_physical_devices("GPU")
quiet_python_logs()

__all__ = ["tf", "keras"]
