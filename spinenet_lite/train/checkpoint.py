"""Checkpoints: the resumable tf.train.Checkpoint of a run, atomic `.weights.h5` files, and `load_trained`.

A run folder holds `recipe.yaml`, `classes.txt`, `checkpoints/` (model + optimizer + step, for --resume),
`last.weights.h5` and `best.weights.h5`. TensorFlow writes `checkpoints/` index-last, so a kill mid-write
leaves the previous checkpoint readable; the `.weights.h5` files are written to a temporary file and renamed.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spinenet_lite.config import Recipe, load_recipe
from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.io import atomic_write_text

RECIPE_FILE = "recipe.yaml"
CLASSES_FILE = "classes.txt"
CHECKPOINT_DIR = "checkpoints"
LAST_WEIGHTS = "last.weights.h5"
BEST_WEIGHTS = "best.weights.h5"


@dataclass
class Trained:
    """A trained model with what is needed to use it: its recipe, class names and where it came from."""

    model: object  # keras.Model
    recipe: Recipe
    class_names: tuple
    path: Path


def build_model(recipe: Recipe, num_classes: int, **extra):
    """The detector a recipe names: `create_model(name, num_classes, input_size, activation, **overrides)`."""
    from spinenet_lite.models.registry import create_model

    overrides = dict(recipe.model.overrides)
    overrides.setdefault("activation", recipe.model.activation)
    if recipe.model.early_activation:
        overrides.setdefault("early_activation", recipe.model.early_activation)
    overrides.update(extra)
    return create_model(recipe.model.name, num_classes=num_classes, input_size=recipe.model.input_size, **overrides)


def save_weights_atomic(model, path: str | os.PathLike) -> None:
    """`model.save_weights` to a temporary `.weights.h5` beside `path` (same Keras weights format as the
    target name selects), then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.weights.h5", dir=path.parent)
    os.close(fd)
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_classes(run_dir: Path, class_names) -> None:
    atomic_write_text(Path(run_dir) / CLASSES_FILE, "".join(f"{name}\n" for name in class_names))


def read_classes(run_dir: Path) -> tuple:
    return read_classes_file(Path(run_dir) / CLASSES_FILE, "missing; a run folder written by `spinenet-lite train` has one")


def read_classes_file(path: str | Path, missing: str = "classes file not found; pass a text file with one class "
                      "name per line") -> tuple:
    """Class names from a text file, one per line (blank lines skipped); `missing` says what to do without it."""
    path = Path(path)
    if not path.is_file():
        raise SpineNetLiteError(f"{path}: {missing}")
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not names:
        raise SpineNetLiteError(f"{path}: no class names; write one class name per line")
    return names


def _resolve(run_or_checkpoint: str | os.PathLike) -> tuple[Path, Path]:
    """(run folder, weights file) for a run folder or a `.weights.h5` file inside one."""
    path = Path(run_or_checkpoint)
    if not path.exists():
        raise SpineNetLiteError(f"{path}: no such run folder or weights file; pass runs/<name> or a .weights.h5 in it")
    if path.is_dir():
        for name in (BEST_WEIGHTS, LAST_WEIGHTS):
            if (path / name).is_file():
                return path, path / name
        raise SpineNetLiteError(f"{path}: no {BEST_WEIGHTS} or {LAST_WEIGHTS}; train first or pass a weights file")
    if not path.name.endswith(".h5"):
        raise SpineNetLiteError(f"{path}: not a .weights.h5 file; pass a run folder or its best.weights.h5")
    return path.parent, path


def load_trained(run_or_checkpoint: str | os.PathLike) -> Trained:
    """Rebuild the model of a run and load its weights (best, else last; or the `.weights.h5` given)."""
    run_dir, weights = _resolve(run_or_checkpoint)
    if not (run_dir / RECIPE_FILE).is_file():
        raise SpineNetLiteError(f"{run_dir / RECIPE_FILE}: missing; the weights must sit in the run folder that trained them")
    recipe = load_recipe(str(run_dir / RECIPE_FILE))
    class_names = read_classes(run_dir)
    model = build_model(recipe, num_classes=len(class_names))
    load_weights_checked(model, weights, recipe.model.name)
    return Trained(model=model, recipe=recipe, class_names=class_names, path=weights)


def load_weights_checked(model, weights: Path, model_name: str) -> None:
    """`model.load_weights` with errors that say whether the file is corrupt or belongs to another model."""
    import h5py

    try:
        with h5py.File(weights, "r"):
            pass
    except OSError:
        raise SpineNetLiteError(f"{weights}: not a readable HDF5 weights file (corrupt or truncated); retrain or use last.weights.h5") from None
    try:
        model.load_weights(str(weights))
    except (ValueError, KeyError) as err:
        first = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise SpineNetLiteError(
            f"{weights}: weights do not fit {model_name} with this recipe's classes and input size ({first}); "
            "use the recipe.yaml and classes.txt of the run that wrote them"
        ) from None
    except OSError as err:
        raise SpineNetLiteError(f"{weights}: cannot read weights ({str(err).splitlines()[0]}); file is corrupt") from None


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
