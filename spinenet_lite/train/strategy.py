"""The tf.distribute strategy a recipe asks for: TensorFlow's own engine does the scale-out."""
from __future__ import annotations

import json
import os

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.keras import tf

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """`default`: one device; `mirrored`: all local GPUs (or logical CPUs); `multiworker`: TF_CONFIG machines;
    `tpu`: the TPU cluster named by TPU_NAME (or the local one)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        # Plain all-reduce on CPUs: NCCL needs GPUs.
        ops = None if gpus else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=ops)
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise SpineNetLiteError(
                "train.strategy: 'multiworker' needs the TF_CONFIG environment variable "
                "(cluster and task, see tf.distribute.MultiWorkerMirroredStrategy)"
            )
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as err:
            raise SpineNetLiteError(f"TF_CONFIG: not valid JSON ({err}); set it to the cluster spec") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", ""))
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as err:
            raise SpineNetLiteError(f"train.strategy: no TPU found ({str(err).splitlines()[0]}); use 'default'") from None
        return tf.distribute.TPUStrategy(resolver)
    from spinenet_lite.errors import suggest

    raise SpineNetLiteError(f"train.strategy: unknown strategy {name!r}{suggest(name, STRATEGIES)}; use one of {', '.join(STRATEGIES)}")


def split_cpu(num_devices: int) -> None:
    """Expose the CPU as `num_devices` logical devices (tests and CI); must run before TensorFlow initialises."""
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
    )


def with_sync_batch_norm(model):
    """Make every BatchNormalization layer of `model` use the statistics of the global batch; returns `model`.

    In place (a clone rebuilds the whole SpineNet graph). tf_keras' own `synchronized=True` path calls
    `ReplicaContext.all_reduce` three times per layer, and under MirroredStrategy each call's custom gradient walks
    the other replica's whole graph back to its inputs, so tracing one step grew quadratically with depth (more
    than 20 minutes for SpineNet-49XXS at 64 px on 2 logical CPUs: the "hang"). Here each layer does one
    all-reduce of every replica's (count, mean, squared deviations) through `cross_replica_sum`, whose walk stops at
    stop_gradient.
    """
    import types

    from spinenet_lite.keras import keras

    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
            layer.fused = False  # the fused kernel has no cross-replica path
            layer._calculate_mean_and_var = types.MethodType(_global_moments, layer)
    return model


def cross_replica_sum(values: list) -> list:
    """Sum tensors over the replicas of the current replica context, with the gradient of a sum (itself a
    cross-replica sum). Inputs enter the all-reduce through stop_gradient so tracing stays linear in depth."""
    ctx = tf.distribute.get_replica_context()

    @tf.custom_gradient
    def reduce(*xs):
        ys = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [tf.stop_gradient(x) for x in xs])

        def grad(*dys):
            dys = [tf.zeros_like(x) if d is None else d for d, x in zip(dys, xs)]
            return tuple(ctx.all_reduce(tf.distribute.ReduceOp.SUM, [tf.stop_gradient(d) for d in dys]))

        return tuple(ys), grad

    return list(reduce(*values))


def _global_moments(layer, inputs, reduction_axes, keep_dims, mask=None):
    """Mean and variance over the global batch (bound to a BatchNormalization layer as its moments method).

    Each replica takes its own moments in two passes, as one device does, and the replicas' (count, mean, sum of
    squared deviations) are combined exactly (Chan, Golub & LeVeque 1979). The one-pass E[x^2] - E[x]^2 cancels
    catastrophically in float32 when |mean| >> std, which many SpineNet layers have; its gradient, not its loss,
    went wrong first, so 2 replicas drifted from one device after the second update.
    """
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1 or mask is not None:
        return layer._no_sync_calculate_mean_and_var(inputs, reduction_axes, keep_dims, mask=mask)
    x = tf.cast(inputs, tf.float32)
    count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), reduction_axes)), tf.float32)
    local_mean = tf.math.divide_no_nan(tf.reduce_sum(x, reduction_axes, keepdims=True), count)
    # stop_gradient is exact here: the sum of deviations from their own mean is zero.
    local_m2 = tf.reduce_sum(tf.math.squared_difference(x, tf.stop_gradient(local_mean)), reduction_axes, keepdims=True)
    stats = tf.stack([tf.fill(tf.shape(tf.reshape(local_mean, [-1])), count), tf.reshape(local_mean, [-1]),
                      tf.reshape(local_m2, [-1])])
    # Each replica writes its row of a (replicas, 3, channels) table; the all-reduce adds zeros to every other
    # row, so each replica then holds every replica's statistics exactly.
    row = tf.one_hot(ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync, dtype=tf.float32)
    (table,) = cross_replica_sum([row[:, None, None] * stats[None]])
    counts, means, m2s = table[:, 0], table[:, 1], table[:, 2]
    total = tf.reduce_sum(counts, 0)
    mean = tf.math.divide_no_nan(tf.reduce_sum(counts * means, 0), total)
    m2 = tf.reduce_sum(m2s, 0) + tf.reduce_sum(counts * tf.square(means - mean), 0)
    variance = tf.math.divide_no_nan(m2, total)
    shape = tf.shape(local_mean) if keep_dims else tf.shape(tf.squeeze(local_mean, reduction_axes))
    mean, variance = tf.reshape(mean, shape), tf.reshape(variance, shape)
    return tf.cast(mean, inputs.dtype), tf.cast(variance, inputs.dtype)


def _all_layers(model) -> list:
    """Layers of `model`, descending into nested models (a backbone inside the detector)."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_all_layers(layer))
    return out
