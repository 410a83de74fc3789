"""The resumable tf.train.Checkpoint of a run: model + optimizer + step in `run/checkpoints/`, for `--resume`.

TensorFlow writes `checkpoints/` index-last, so a kill mid-write leaves the previous checkpoint readable. The run
folder's other files, and loading a trained model, belong to `spinenet_lite.runs`.
"""
from __future__ import annotations

from pathlib import Path

from spinenet_lite.runs import CHECKPOINT_DIR


class RunCheckpoint:
    """model + optimizer + step + epoch + best AP + training seconds in `run/checkpoints/`, for an exact `--resume`.

    `extra` names further variables to carry (the trainer passes the schedule's run length).
    """

    def __init__(self, run_dir: Path, model, optimizer, max_to_keep: int = 2, **extra):
        from spinenet_lite.keras import tf

        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.best_ap = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_ap")
        self.seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="train_seconds")
        self.checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, step=self.step, epoch=self.epoch, best_ap=self.best_ap,
            seconds=self.seconds, **extra
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(Path(run_dir) / CHECKPOINT_DIR), max_to_keep)

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def restore(self) -> bool:
        """Restore the last complete checkpoint; False when there is none."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return False
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return True

    def save(self) -> str:
        return self.manager.save(checkpoint_number=int(self.step.numpy()))
