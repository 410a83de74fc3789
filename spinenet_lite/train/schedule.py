"""Learning-rate schedules: linear warm-up, then cosine or step decay (the paper's COCO recipe uses step)."""
from __future__ import annotations

import math

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.keras import keras, tf

SCHEDULES = ("cosine", "step")


class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `base_lr` over `warmup_steps`, then cosine to 0 or x0.1 steps at boundaries.

    A pure function of the step and the run length (`total_steps`, checkpointed), so a resumed run continues on
    exactly the same curve.
    """

    def __init__(
        self,
        base_lr: float,
        total_steps: int,
        warmup_steps: int = 0,
        kind: str = "cosine",
        boundaries: tuple = (),
        decay_factor: float = 0.1,
    ):
        super().__init__()
        if kind not in SCHEDULES:
            raise SpineNetLiteError(f"train.schedule: unknown schedule {kind!r}; use one of {', '.join(SCHEDULES)}")
        self.base_lr = float(base_lr)
        total = max(int(total_steps), 1)
        self.warmup_steps = max(min(int(warmup_steps), total - 1), 0)
        self.kind = kind
        # Boundaries are kept as fractions of the run, so `retarget` moves them with its length.
        self.boundary_fractions = tuple(int(b) / total for b in boundaries)
        self.decay_factor = float(decay_factor)
        # A variable, so a time-budgeted run can re-fit the decay to the steps that fit (`retarget`) without
        # retracing the train step, and a checkpoint can carry it for an exact resume.
        self.total_steps = tf.Variable(float(total), trainable=False, dtype=tf.float32, name="schedule_total_steps")

    @property
    def boundaries(self) -> tuple:
        total = float(self.total_steps.numpy())
        return tuple(int(round(f * total)) for f in self.boundary_fractions)

    def retarget(self, total_steps: int) -> None:
        """Lay the decay out over `total_steps` instead (warm-up unchanged)."""
        self.total_steps.assign(float(max(int(total_steps), self.warmup_steps + 1)))

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        base = tf.constant(self.base_lr, tf.float32)
        total = tf.cast(self.total_steps, tf.float32)
        if self.kind == "cosine":
            span = tf.maximum(total - self.warmup_steps, 1.0)
            progress = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
            decayed = base * 0.5 * (1.0 + tf.cos(math.pi * progress))
        else:
            factor = tf.constant(1.0, tf.float32)
            for fraction in self.boundary_fractions:
                factor = tf.where(step >= tf.round(fraction * total), factor * self.decay_factor, factor)
            decayed = base * factor
        if self.warmup_steps == 0:
            return decayed
        warm = base * (step + 1.0) / float(self.warmup_steps)
        return tf.where(step < self.warmup_steps, warm, decayed)

    def get_config(self) -> dict:
        return {
            "base_lr": self.base_lr,
            "total_steps": int(self.total_steps.numpy()),
            "warmup_steps": self.warmup_steps,
            "kind": self.kind,
            "boundaries": self.boundaries,
            "decay_factor": self.decay_factor,
        }


def make_schedule(train_cfg, total_steps: int) -> WarmupDecay:
    """The schedule a TrainConfig asks for; step boundaries are fractions of the total steps."""
    bad = [b for b in train_cfg.step_boundaries if not 0.0 < float(b) < 1.0]
    if train_cfg.schedule == "step" and bad:
        raise SpineNetLiteError(
            f"train.step_boundaries: {bad} are not fractions of the run in (0, 1); e.g. [0.95, 0.983]"
        )
    boundaries = tuple(int(round(float(b) * total_steps)) for b in train_cfg.step_boundaries)
    return WarmupDecay(
        base_lr=train_cfg.learning_rate,
        total_steps=total_steps,
        warmup_steps=train_cfg.warmup_steps,
        kind=train_cfg.schedule,
        boundaries=boundaries if train_cfg.schedule == "step" else (),
    )
