"""Learning-rate schedules: linear warm-up, then cosine or step decay (the paper's COCO recipe uses step)."""
from __future__ import annotations

import math

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.keras import keras, tf

SCHEDULES = ("cosine", "step")
# The warm-up takes at most this share of the run: a recipe's warm-up that would not end in time (a paper
# recipe's 2000 steps in a 15-minute budget) shrinks with the run, so the decay still anneals it.
WARMUP_SHARE = 0.25


class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `base_lr` over `warmup_steps`, then cosine to 0 or x0.1 steps at boundaries.

    The warm-up lasts `warmup_steps`, or `WARMUP_SHARE` of the run when that is shorter. A pure function of the
    step and the run length (`total_steps`, checkpointed), so a resumed run continues on exactly the same curve.
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
        self.recipe_warmup_steps = max(int(warmup_steps), 0)
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

    @property
    def warmup_steps(self) -> int:
        """The warm-up of the current run length (the recipe's, or `WARMUP_SHARE` of the run when shorter)."""
        return int(self._warmup(tf.cast(self.total_steps, tf.float32)).numpy())

    def _warmup(self, total):
        """Warm-up steps for a run of `total` steps (a float32 tensor)."""
        share = tf.maximum(tf.floor(WARMUP_SHARE * total), 1.0)
        return tf.minimum(tf.constant(float(self.recipe_warmup_steps)), share)

    def retarget(self, total_steps: int) -> None:
        """Lay the schedule out over `total_steps` instead: the decay moves with it, and the warm-up too when the
        recipe's would take more than `WARMUP_SHARE` of the new length."""
        self.total_steps.assign(float(max(int(total_steps), 1)))

    def describe(self) -> str:
        """The schedule in words, as the run will follow it (for the training log)."""
        total, warm = int(round(float(self.total_steps.numpy()))), self.warmup_steps
        text = f"lr {self.base_lr:g}, "
        if warm:
            text += f"linear warm-up over steps 0-{warm}"
            if warm < self.recipe_warmup_steps:
                text += f" (train.warmup_steps {self.recipe_warmup_steps} cut to {WARMUP_SHARE:.0%} of the run)"
            text += ", "
        if self.kind == "cosine":
            return text + f"cosine decay to 0 at step {total}"
        steps = ", ".join(str(b) for b in self.boundaries)
        return text + f"x{self.decay_factor:g} at steps {steps}, run ends at step {total}"

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        base = tf.constant(self.base_lr, tf.float32)
        total = tf.cast(self.total_steps, tf.float32)
        warmup = self._warmup(total)
        if self.kind == "cosine":
            span = tf.maximum(total - warmup, 1.0)
            progress = tf.clip_by_value((step - warmup) / span, 0.0, 1.0)
            decayed = base * 0.5 * (1.0 + tf.cos(math.pi * progress))
        else:
            factor = tf.constant(1.0, tf.float32)
            for fraction in self.boundary_fractions:
                factor = tf.where(step >= tf.round(fraction * total), factor * self.decay_factor, factor)
            decayed = base * factor
        if self.recipe_warmup_steps == 0:
            return decayed
        warm = base * (step + 1.0) / warmup
        return tf.where(step < warmup, warm, decayed)

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
