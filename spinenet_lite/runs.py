"""Runs: the run folder's layout and file names, the model a recipe names, and a trained run loaded as one object.

A run folder (written by `train`, read by eval, export, predict and the benchmark) holds `recipe.yaml`
(resolved), `classes.txt`, `checkpoints/` (model + optimizer + step, for --resume), `last.weights.h5`,
`best.weights.h5` (by validation mAP), `results.csv`, `results.png`, `tensorboard/`, and later `export/`,
`predictions/` and `qat/`. A QAT folder (written by `qat`) adds `qat.weights.h5` (what export reads) and
`float.weights.h5` (the float weights QAT started from, the parity gate's reference).

`load_trained` gives the float model of a run, `load_qat` the quantization-aware one, `load_run` whichever the
folder holds; all three return a `Trained`, the object that carries a model from train to eval, export and predict.
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
RESULTS_CSV = "results.csv"
RESULTS_PNG = "results.png"
TENSORBOARD_DIR = "tensorboard"
EXPORT_DIR = "export"
PREDICTIONS_DIR = "predictions"
QAT_DIR = "qat"
QAT_WEIGHTS = "qat.weights.h5"
FLOAT_WEIGHTS = "float.weights.h5"  # in a QAT folder: the float weights QAT started from
LABELS_FILE = "labels.txt"  # beside exported models: one class name per line


@dataclass
class Trained:
    """A trained model with what is needed to use it: its recipe, class names and where it came from.

    For a QAT run `quantized` is true and `float_model` holds the float weights QAT started from.
    """

    model: object  # keras.Model
    recipe: Recipe
    class_names: tuple
    path: Path
    float_model: object = None
    quantized: bool = False

    @property
    def reference_model(self):
        """The float model artifacts are compared with (the QAT run's float start, else the model itself)."""
        return self.float_model if self.float_model is not None else self.model

    @property
    def input_size(self) -> int:
        return int(self.recipe.model.input_size)

    @property
    def run_dir(self) -> Path:
        return Path(self.path).parent

    def detect_fn(self, score_threshold: float | None = None, reference: bool = False):
        """The Keras detect function of the model (or of `reference_model`) with the recipe's export thresholds."""
        from spinenet_lite.runtimes.keras import recipe_detect_fn

        return recipe_detect_fn(self.reference_model if reference else self.model, self.recipe, score_threshold)


def build_model(recipe: Recipe, num_classes: int, **extra):
    """The detector a recipe names: `create_model(name, num_classes, input_size, **overrides)`, where the recipe's
    model settings left unset (None) are the registry's defaults for that model."""
    from spinenet_lite.models.registry import create_model

    overrides = dict(recipe.model.overrides)
    for key in ("activation", "early_activation"):
        if getattr(recipe.model, key) is not None:
            overrides.setdefault(key, getattr(recipe.model, key))
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
    write_classes_file(Path(run_dir) / CLASSES_FILE, class_names)


def write_classes_file(path: Path, class_names) -> None:
    """One class name per line (classes.txt of a run, labels.txt beside exported models)."""
    atomic_write_text(Path(path), "".join(f"{name}\n" for name in class_names))


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


def resolve_run(run_or_checkpoint: str | os.PathLike) -> tuple[Path, Path]:
    """(run folder, weights file) for a run folder or a `.weights.h5` file inside one; clear errors otherwise."""
    return _resolve(run_or_checkpoint)


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


def is_qat_run(run_or_checkpoint: str | os.PathLike) -> bool:
    """True for a run folder (or its weights file) written by `qat`."""
    path = Path(run_or_checkpoint)
    return (path.is_dir() and (path / QAT_WEIGHTS).is_file()) or path.name == QAT_WEIGHTS


def load_qat(run_or_checkpoint: str | os.PathLike) -> Trained:
    """Rebuild the float model of a QAT run, quantize it, load the QAT weights.

    The float model carries the weights QAT started from (`float.weights.h5` in the QAT folder), so the
    parity gate compares every artifact with the float model the user trained.
    """
    from spinenet_lite.quant_graph import quantize_model

    path = Path(run_or_checkpoint)
    run_dir = path if path.is_dir() else path.parent
    if not (run_dir / QAT_WEIGHTS).is_file():
        raise SpineNetLiteError(f"{run_dir}: no {QAT_WEIGHTS}; run `spinenet-lite qat RECIPE --from RUN` first")
    if not (run_dir / RECIPE_FILE).is_file():
        raise SpineNetLiteError(f"{run_dir / RECIPE_FILE}: missing; a QAT folder written by `qat` has one")
    recipe = load_recipe(str(run_dir / RECIPE_FILE))
    class_names = read_classes(run_dir)
    float_model = build_model(recipe, num_classes=len(class_names), stochastic_depth=recipe.train.stochastic_depth)
    if (run_dir / FLOAT_WEIGHTS).is_file():
        load_weights_checked(float_model, run_dir / FLOAT_WEIGHTS, recipe.model.name)
    model = quantize_model(float_model)
    try:
        load_weights_checked(model, run_dir / QAT_WEIGHTS, recipe.model.name)
    except SpineNetLiteError:
        raise SpineNetLiteError(
            f"{run_dir / QAT_WEIGHTS}: does not fit the QAT graph of {recipe.model.name} (written for another model, "
            "or by an earlier spinenet-lite whose QAT graph had more quantizers); run `spinenet-lite qat --from RUN` "
            "again") from None
    return Trained(model, recipe, class_names, run_dir / QAT_WEIGHTS, float_model=float_model, quantized=True)


def load_run(run_or_checkpoint: str | os.PathLike) -> Trained:
    """The trained model of a run folder or weights file: QAT when `qat` wrote it, else float."""
    if is_qat_run(run_or_checkpoint):
        return load_qat(run_or_checkpoint)
    return load_trained(run_or_checkpoint)


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


def best_weights_in(model, run_dir: Path, model_is_best: bool, model_name: str) -> Path:
    """The run's best weights file (best.weights.h5, else last.weights.h5), with `model` - the model training
    left in memory at its last weights - holding those weights: best.weights.h5 is loaded into it unless
    `model_is_best` (its last evaluation was the best)."""
    best = Path(run_dir) / BEST_WEIGHTS
    if not best.is_file():
        return Path(run_dir) / LAST_WEIGHTS
    if not model_is_best:
        load_weights_checked(model, best, model_name)
    return best
