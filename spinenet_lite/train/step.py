"""One distributed training step: forward, detection loss normalised over the global batch, L2, SGD update.

Each replica sees its share of the global batch. The detection loss is normalised by the number of positive
anchors of the *global* batch (an all-reduce), and batch norm is synchronised across replicas, so N replicas
compute the same loss and gradients as one device on the same global batch.
"""
from __future__ import annotations

from spinenet_lite.keras import tf


def l2_kernels(model) -> list:
    """Weights that get weight decay: conv / dense kernels (not biases, not batch norm)."""
    return [v for v in model.trainable_variables if "kernel" in v.name.split("/")[-1]]


LOSS_KEYS = ("total", "cls", "box", "l2")


def _replica_step_fn(strategy, model, optimizer, loss_kwargs: dict, weight_decay: float, jit_compile: bool):
    """The per-replica step `(images, cls_targets, box_targets) -> dict(total, cls, box, l2)`; with `jit_compile`
    it is XLA-compiled (the replica's forward, backward and update; the input and the loop stay outside, as in
    tf_keras' `fit`)."""
    from spinenet_lite.keras import keras
    from spinenet_lite.losses import count_positives, detection_loss

    decayed = l2_kernels(model)
    num_replicas = strategy.num_replicas_in_sync
    scaled = isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer)

    def replica_step(images, cls_targets, box_targets):
        ctx = tf.distribute.get_replica_context()
        global_pos = ctx.all_reduce(tf.distribute.ReduceOp.SUM, count_positives(cls_targets))
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            losses = detection_loss(
                cls_targets, box_targets, outputs["class_logits"], outputs["box_encodings"],
                num_positives=global_pos, **loss_kwargs,
            )
            l2 = weight_decay * tf.add_n([tf.nn.l2_loss(v) for v in decayed]) if decayed else tf.constant(0.0)
            total = losses["total"] + l2 / num_replicas
            objective = optimizer.get_scaled_loss(total) if scaled else total
        grads = tape.gradient(objective, model.trainable_variables)
        if scaled:
            grads = optimizer.get_unscaled_gradients(grads)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {
            "total": total,
            "cls": losses["cls"],
            "box": losses["box"],
            "l2": l2 / num_replicas,
        }

    if jit_compile:
        return tf.function(replica_step, jit_compile=True, reduce_retracing=True)
    return replica_step


def make_train_step(strategy, model, optimizer, loss_kwargs: dict, weight_decay: float, jit_compile: bool = False):
    """A tf.function `step(dist_batch) -> dict(total, cls, box, l2)` of losses summed over replicas."""
    replica_step = _replica_step_fn(strategy, model, optimizer, loss_kwargs, weight_decay, jit_compile)

    @tf.function
    def step(batch):
        images, targets = batch
        per_replica = strategy.run(replica_step, args=(images, targets["cls_targets"], targets["box_targets"]))
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

    return step


def make_train_loop(strategy, model, optimizer, loss_kwargs: dict, weight_decay: float, jit_compile: bool = False):
    """A tf.function `run(dist_iterator, num_steps) -> dict(total, cls, box, l2)`: `num_steps` steps in one call
    (`train.steps_per_execution`), each step's losses summed over replicas, then summed over the steps. The host
    reads the losses once per call instead of once per step; `num_steps` is a tensor, so any count runs
    without retracing."""
    replica_step = _replica_step_fn(strategy, model, optimizer, loss_kwargs, weight_decay, jit_compile)

    @tf.function
    def run(iterator, num_steps):
        sums = tuple(tf.constant(0.0, tf.float32) for _ in LOSS_KEYS)
        for _ in tf.range(num_steps):
            images, targets = next(iterator)
            per_replica = strategy.run(replica_step, args=(images, targets["cls_targets"], targets["box_targets"]))
            sums = tuple(s + strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[k], axis=None)
                         for s, k in zip(sums, LOSS_KEYS))
        return dict(zip(LOSS_KEYS, sums))

    return run
