"""Recipes: a few shallow dataclasses with defaults, and YAML files that override them.

Each field lives in one section. A recipe names a registered model; the architecture itself never lives in a recipe.
Unknown or mistyped keys are errors that name the key and suggest the closest valid one.
"""
from __future__ import annotations

import dataclasses
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spinenet_lite.errors import SpineNetLiteError, suggest


@dataclass(frozen=True)
class ModelConfig:
    """Which registered model to build and how. A setting left unset (None) is the registry's value for the
    model (`model_info(name)`: its paper input size; `.defaults`: swish for the mobile family, relu for the
    full-size one). The input size is resolved here, so every reader of a recipe sees a number."""

    name: str = "spinenet49xs"
    input_size: int | None = None
    activation: str | None = None
    # e.g. relu6: used instead of `activation` on the expanded tensors of the level 1-2 MBConv blocks (mobile
    # models); None: `activation` everywhere, as the paper. Measured in docs/ablations.md.
    early_activation: str | None = None
    # Overrides forwarded to create_model (e.g. head_filters); keys are checked by the registry.
    overrides: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.input_size is None:
            from spinenet_lite.models.registry import model_info

            object.__setattr__(self, "input_size", model_info(self.name).input_size)


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and how it is augmented."""

    format: str = "synthetic"  # synthetic | coco | voc | yolo | tfrecord
    root: str = ""  # dataset folder (voc, yolo: the data YAML; coco: the folder holding images)
    train: str = "train"  # split name (voc/synthetic), annotation file (coco) or split key (yolo)
    val: str = "val"
    class_names: tuple = ()  # optional fixed class list (voc); empty means: read from the data
    synthetic_images: int = 480  # size of the embedded dataset (train + val)
    synthetic_seed: int = 0
    hflip: bool = True
    scale_min: float = 0.5
    scale_max: float = 2.0


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation: SGD with momentum, warm-up, cosine or step decay."""

    epochs: int = 10
    batch_size: int = 8
    learning_rate: float = 0.08
    momentum: float = 0.9
    weight_decay: float = 4e-5
    warmup_steps: int = 200
    schedule: str = "cosine"  # cosine | step
    step_boundaries: tuple = (0.95, 0.983)  # fractions of total steps, for the step schedule
    stochastic_depth: float = 0.2
    focal_alpha: float = 0.25
    focal_gamma: float = 1.5
    huber_delta: float = 0.1
    box_loss_weight: float = 50.0
    strategy: str = "default"  # default | mirrored | multiworker | tpu
    seed: int = 0
    eval_every: int = 1  # epochs
    checkpoint_every_steps: int = 0  # 0: once per epoch
    max_minutes: float = 0.0  # 0: no time budget
    # The last N epochs train with batch norm frozen (moving statistics, fixed scale and offset), so the weights
    # settle on the statistics inference uses; measured on the quickstart: val AP50 70 -> 88 (docs/results.md).
    # A model trained from scratch keeps at least its first epoch unfrozen (QAT, from trained weights, freezes all).
    freeze_bn_epochs: int = 0
    qat_epochs: int = 2
    # BCCD 49xs (float lr 0.08, batch 8), 2 QAT epochs, val AP vs 55.2 float: lr 0 54.5, 0.0004 54.7, 0.001 54.9,
    # 0.004 53.4 (docs/ablations.md).
    qat_learning_rate: float = 0.001
    qat_freeze_bn: bool = True  # QAT fine-tunes with batch norm frozen (all QAT epochs)
    # Start from another run's weights (`train --init`): a run folder or a .weights.h5 in one, e.g. an imported
    # Model Garden run. The model and its options come from that run; see spinenet_lite/train/init.py.
    init: str = ""
    init_backbone_only: bool = False  # with init: copy the backbone only, the detection head starts fresh
    # float32 | mixed_bfloat16 | mixed_float16: the compute type of the training model (variables, losses and
    # outputs stay float32; float16 scales the loss). Saved weights and exports are float32 either way; QAT
    # trains in float32.
    precision: str = "float32"
    jit_compile: str = "auto"  # auto | true | false: XLA-compile the train step (auto: on for GPU and TPU)
    steps_per_execution: int = 1  # train steps per compiled call; losses come back to the host once per call


@dataclass(frozen=True)
class ExportConfig:
    """Export defaults and parity-gate limits."""

    score_threshold: float = 0.05
    iou_threshold: float = 0.5
    max_detections: int = 100
    calibration_images: int = 100
    max_ap_drop_float: float = 0.2
    max_ap_drop_int8: float = 1.5


@dataclass(frozen=True)
class Recipe:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


SECTIONS = {f.name: f.type for f in dataclasses.fields(Recipe)}
_SECTION_CLASSES = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig, "export": ExportConfig}


def _coerce(value: Any, default: Any, where: str) -> Any:
    """Convert a YAML or --set value to the type of the field's default."""
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, bool):
            return value
        raise SpineNetLiteError(f"{where}: expected true/false, got {value!r}")
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or number != number:
            raise SpineNetLiteError(f"{where}: expected a number, got {value!r}")
        if isinstance(default, int):
            if not number.is_integer():
                raise SpineNetLiteError(f"{where}: expected a whole number, got {value!r}")
            return int(number)
        return number
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.startswith("[") else [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise SpineNetLiteError(f"{where}: expected a list, e.g. [a, b], got {value!r}")
        return tuple(value)
    if isinstance(default, dict):
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, dict):
            raise SpineNetLiteError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if isinstance(default, str):
        if isinstance(value, (dict, list)):
            raise SpineNetLiteError(f"{where}: expected text, got {value!r}")
        return str(value)
    return value


def _between(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False):
    def check(v) -> bool:
        return ((low is None or (v > low if low_open else v >= low))
                and (high is None or (v < high if high_open else v <= high)))
    return check


def _one_of(*names: str):
    def check(v) -> bool:
        return v in names
    check.names = names
    return check


# Allowed values per field: (check, what a valid value is). Fields not listed take any value of their type.
RANGES = {
    "model.input_size": (lambda v: v >= 32 and v % 32 == 0, "a multiple of 32, >= 32 (e.g. 128, 256, 384)"),
    "data.format": (_one_of("synthetic", "coco", "voc", "yolo", "tfrecord"),
                    "one of synthetic, coco, voc, yolo, tfrecord"),
    "data.synthetic_images": (_between(10, None), ">= 10"),
    "data.scale_min": (_between(0, None, low_open=True), "> 0"),
    "data.scale_max": (_between(0, None, low_open=True), "> 0"),
    "train.epochs": (_between(1, None), ">= 1"),
    "train.batch_size": (_between(1, None), ">= 1"),
    "train.learning_rate": (_between(0, None, low_open=True), "> 0"),
    "train.momentum": (_between(0, 1, high_open=True), "in [0, 1)"),
    "train.weight_decay": (_between(0, None), ">= 0"),
    "train.warmup_steps": (_between(0, None), ">= 0"),
    "train.schedule": (_one_of("cosine", "step"), "cosine or step"),
    "train.stochastic_depth": (_between(0, 1, high_open=True), "in [0, 1)"),
    "train.focal_alpha": (_between(0, 1, low_open=True, high_open=True), "in (0, 1)"),
    "train.focal_gamma": (_between(0, None), ">= 0"),
    "train.huber_delta": (_between(0, None, low_open=True), "> 0"),
    "train.box_loss_weight": (_between(0, None), ">= 0"),
    "train.strategy": (_one_of("default", "mirrored", "multiworker", "tpu"), "default, mirrored, multiworker or tpu"),
    "train.eval_every": (_between(1, None), ">= 1 (epochs)"),
    "train.checkpoint_every_steps": (_between(0, None), ">= 0 (0: once per epoch)"),
    "train.max_minutes": (_between(0, None), ">= 0 (0: no time budget)"),
    "train.freeze_bn_epochs": (_between(0, None), ">= 0"),
    "train.qat_epochs": (_between(1, None), ">= 1"),
    "train.qat_learning_rate": (_between(0, None, low_open=True), "> 0"),
    "train.precision": (_one_of("float32", "mixed_bfloat16", "mixed_float16"),
                        "float32, mixed_bfloat16 or mixed_float16"),
    "train.jit_compile": (lambda v: str(v).lower() in ("auto", "true", "false"), "auto, true or false"),
    "train.steps_per_execution": (_between(1, None), ">= 1"),
    "export.score_threshold": (_between(0, 1, high_open=True), "in [0, 1)"),
    "export.iou_threshold": (_between(0, 1, low_open=True), "in (0, 1]"),
    "export.max_detections": (_between(1, None), ">= 1"),
    "export.calibration_images": (_between(1, None), ">= 1"),
    "export.max_ap_drop_float": (_between(-100, 100), "in [-100, 100] AP points (negative: the file must gain AP)"),
    "export.max_ap_drop_int8": (_between(-100, 100), "in [-100, 100] AP points (negative: the file must gain AP)"),
}


def validate(recipe: Recipe, where: str = "recipe") -> Recipe:
    """Check every field against RANGES and the fields that depend on each other; returns `recipe`."""
    for key, (check, allowed) in RANGES.items():
        section, name = key.split(".")
        value = getattr(getattr(recipe, section), name)
        if not check(value):
            hint = suggest(str(value), check.names) if hasattr(check, "names") else ""
            raise SpineNetLiteError(f"{where}: {key} is {value!r}{hint}; use {allowed}")
    data = recipe.data
    if data.scale_min > data.scale_max:
        raise SpineNetLiteError(f"{where}: data.scale_min {data.scale_min:g} is above data.scale_max "
                                f"{data.scale_max:g}; use scale_min <= scale_max (1.0 and 1.0: no scale jitter)")
    return recipe


def _section(cls: type, values: dict, where: str) -> Any:
    defaults = cls()
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise SpineNetLiteError(f"{where}: unknown key {key!r}{suggest(key, names)}")
        kwargs[key] = _coerce(value, getattr(defaults, key), f"{where}.{key}")
    try:
        return cls(**kwargs)
    except SpineNetLiteError as err:  # a value resolved from another one (the model's input size from its name)
        raise SpineNetLiteError(f"{where}: {err}") from None


def recipe_from_dict(values: dict, where: str = "recipe") -> Recipe:
    """Build a Recipe from nested {section: {key: value}}; unknown keys are errors with suggestions, every field
    is checked for type and range. `model: NAME` is shorthand for `model: {name: NAME}`."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise SpineNetLiteError(f"{where}: expected a mapping of sections {sorted(SECTIONS)}")
    sections = {}
    for name, body in values.items():
        if name not in _SECTION_CLASSES:
            raise SpineNetLiteError(f"{where}: unknown section {name!r}{suggest(name, _SECTION_CLASSES)}")
        if name == "model" and isinstance(body, str):
            body = {"name": body}
        if not isinstance(body, dict):
            first = dataclasses.fields(_SECTION_CLASSES[name])[0]
            raise SpineNetLiteError(f"{where}: section {name!r} must be a mapping of its fields, e.g. "
                                    f"`{name}: {{{first.name}: {first.default!r}}}`, not {body!r}")
        sections[name] = _section(_SECTION_CLASSES[name], body, f"{where}: {name}")
    return validate(Recipe(**sections), where)


def resolve_recipe_path(path_or_name: str) -> Path:
    """A path to a YAML file, or the name of a shipped recipe ('49xs', 'quickstart')."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    shipped = importlib.resources.files("spinenet_lite.recipes")
    stem = path.stem if path.suffix in (".yaml", ".yml") else path.name
    candidate = shipped / f"{stem}.yaml"
    if candidate.is_file():
        return Path(str(candidate))
    names = sorted(p.name[:-5] for p in shipped.iterdir() if p.name.endswith(".yaml"))
    raise SpineNetLiteError(f"{path_or_name}: no such recipe file{suggest(stem, names)}; shipped recipes: {', '.join(names)}")


def apply_overrides(values: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """Apply `section.key=value` strings (from --set) onto a nested dict."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in (values or {}).items()}
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise SpineNetLiteError(f"--set {item!r}: expected section.key=value, e.g. train.epochs=5")
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        out.setdefault(section, {})
        if not isinstance(out[section], dict):
            raise SpineNetLiteError(f"--set {item!r}: {section!r} is not a section")
        out[section][name] = yaml.safe_load(value) if value else value
    return out


def load_recipe(path_or_name: str, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read a recipe YAML (a path or a shipped name) and apply --set overrides.

    A relative `data.root` written in the file that does not exist from the current folder is looked up beside
    the recipe and one folder up (a shipped recipe's `datasets/bccd` is found in a clone of the repository).
    A --set that changes `data.format` without naming the splits uses the new format's usual ones.
    """
    path = resolve_recipe_path(path_or_name)
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SpineNetLiteError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not values:
        raise SpineNetLiteError(f"{path}: empty recipe; give at least one section (model, data, train, export) or "
                                "start from a shipped recipe, e.g. `spinenet-lite train small --set data.root=...`")
    if isinstance(values, dict) and isinstance(values.get("data"), dict):
        values = {**values, "data": _data_root_beside(values["data"], path)}
    merged = apply_overrides(values, overrides)
    return recipe_from_dict(_usual_splits(values, merged, overrides), where=str(path))


def _data_root_beside(data: dict, recipe_path: Path) -> dict:
    root = data.get("root")
    if not isinstance(root, str) or not root or Path(root).is_absolute() or Path(root).exists():
        return data
    for base in (recipe_path.parent, recipe_path.parent.parent):
        if (base / root).exists():
            return {**data, "root": str((base / root).resolve())}
    return data


def _usual_splits(file_values: dict, merged: dict, overrides) -> dict:
    """When --set changed data.format and named no split, the file's split names (another format's file names)
    give way to the defaults `train` / `val`, which every reader maps to its own layout."""
    before = (file_values.get("data") or {}) if isinstance(file_values.get("data"), dict) else {}
    after = merged.get("data")
    if not isinstance(after, dict) or after.get("format") == before.get("format", DataConfig.format):
        return merged
    named = {item.split("=", 1)[0].strip() for item in overrides}
    data = dict(after)
    for split in ("train", "val"):
        if f"data.{split}" not in named:
            data[split] = getattr(DataConfig, split)
    return {**merged, "data": data}


def save_recipe(recipe: Recipe, path: Path) -> None:
    """Write the resolved recipe atomically."""
    from spinenet_lite.io import atomic_write_text

    data = recipe.to_dict()
    atomic_write_text(path, yaml.safe_dump(_plain(data), sort_keys=False))


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
