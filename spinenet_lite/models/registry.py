"""The model zoo: names -> builders. `create_model`, `create_backbone`, `list_models`, `model_info`.

Names: the mobile family uses the paper's names (`spinenet49xxs`, `spinenet49xs`, `spinenet49s`, `spinenet49`);
the full-size family carries a `-full` suffix (`spinenet49-full`, ...), so the two can never be confused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from spinenet_lite.errors import SpineNetLiteError, suggest
from spinenet_lite.models.reference_counts import MODEL_GARDEN, PAPER
from spinenet_lite.models.specs import CHANNEL_ROUNDING, FULL_SCALING, MOBILE_SCALING

# Overrides each family accepts, with their defaults.
MOBILE_DEFAULTS: dict[str, Any] = {
    "activation": "swish",
    "early_activation": None,  # e.g. "relu6": on the MBConv expand/depthwise tensors at levels <= early_max_level
    "early_max_level": 2,
    "stochastic_depth": 0.2,
    "channel_rounding": None,  # None: the variant's own reading (see specs.MOBILE_SCALING)
    "filter_scale": None,  # None: the variant's own value
    "head_filters": None,
    "head_convs": 4,
    "block_repeats": 1,
    "resample_order": "match_first",  # "paper": upsample before the 1x1 conv (same function, more MACs)
    # The Model Garden's SpineNet-Mobile computes these differently; `spinenet-lite import` sets them so its
    # checkpoints compute the same function (spinenet_lite/model_garden.py):
    "se_activation": None,  # None: `activation`; the Model Garden: "relu"
    "se_gate": "sigmoid",  # the Model Garden: "hard_sigmoid" (relu6(x + 3) * 0.16667)
    "normalization": "unit",  # 0..255 -> [-1, 1]; "imagenet": (x - 255 mean) / (255 std), the Model Garden's
}
FULL_DEFAULTS: dict[str, Any] = {
    "activation": "relu",
    "stochastic_depth": 0.0,
    "filter_scale": None,
    "endpoint_filters": None,
    "resample_alpha": None,
    "block_repeats": None,
    "head_filters": 256,
    "head_convs": 4,
    "normalization": "unit",  # see MOBILE_DEFAULTS
}


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model without building it."""

    name: str
    family: str
    input_size: int
    paper: dict | None  # {"input", "params_m", "macs_b", "num_classes", "source"}
    reference: dict | None  # the Model Garden count of the same model, when one exists

    @property
    def defaults(self) -> dict[str, Any]:
        """The overrides the model accepts, with the values it is built with when a caller leaves them unset."""
        return dict(FAMILIES[self.family].defaults)


@dataclass(frozen=True)
class Family:
    """A model family: its variants (name -> scaling), the overrides it accepts with their defaults, where its
    published counts come from, and the function that builds its feature pyramid."""

    name: str
    scaling: dict
    defaults: dict[str, Any]
    paper_source: str
    features: Callable[[Any, dict], tuple[Callable, int, bool]]  # (scaling, cfg) -> (features fn, head filters, separable)
    check: Callable[[dict], None] = lambda cfg: None  # family-only validation of the resolved overrides


def list_models(family: str | None = None) -> list[str]:
    """Registered model names, mobile first; `family` is "mobile", "full" or None for all."""
    if family is not None and family not in FAMILIES:
        raise SpineNetLiteError(f"family {family!r}: use one of {tuple(FAMILIES)}{suggest(family, FAMILIES)}")
    return [name for fam in FAMILIES.values() if family in (None, fam.name) for name in fam.scaling]


def _family_of(name: str) -> Family:
    for family in FAMILIES.values():
        if name in family.scaling:
            return family
    raise SpineNetLiteError(
        f"model {name!r} is not registered{suggest(name, list_models())}; choose from {', '.join(list_models())}"
    )


def _count(table: dict, name: str, source: str) -> dict | None:
    if name not in table:
        return None
    size, params, macs, classes = table[name]
    return {"input": size, "params_m": params, "macs_b": macs, "num_classes": classes, "source": source}


def model_info(name: str) -> ModelInfo:
    """Family, default (paper) input size and the published counts of a registered model."""
    family = _family_of(name)
    return ModelInfo(name, family.name, family.scaling[name].input_size, _count(PAPER, name, family.paper_source),
                     _count(MODEL_GARDEN, name, "TF Model Garden build"))


def _resolve(name: str, input_size: int | None, overrides: dict) -> tuple[ModelInfo, dict]:
    info = model_info(name)
    family = FAMILIES[info.family]
    defaults = family.defaults
    for key in overrides:
        if key not in defaults:
            raise SpineNetLiteError(
                f"{name}: unknown override {key!r}{suggest(key, defaults)}; allowed: {', '.join(defaults)}"
            )
    cfg = {**defaults, **overrides}
    size = info.input_size if input_size is None else int(input_size)
    if size < 32 or size % 32:
        raise SpineNetLiteError(f"input_size {size}: use a multiple of 32 (>= 32), e.g. 128, 256, 384")
    from spinenet_lite.models.layers import ACTIVATIONS

    for key in ("activation", "early_activation", "se_activation"):
        if key not in cfg:
            continue
        act = cfg[key]
        if act not in ACTIVATIONS and not (key != "activation" and act is None):
            raise SpineNetLiteError(f"{key} {act!r}: use one of {ACTIVATIONS}{suggest(str(act), ACTIVATIONS)}")
    level = cfg.get("early_max_level", 2)
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 7:
        raise SpineNetLiteError(f"early_max_level {level!r}: use a level from 1 to 7 (2: the 1/4-resolution blocks)")
    if not 0.0 <= float(cfg["stochastic_depth"]) < 1.0:
        raise SpineNetLiteError(f"stochastic_depth {cfg['stochastic_depth']}: use a rate in [0, 1), 0 disables")
    if cfg.get("channel_rounding") not in (None, *CHANNEL_ROUNDING):
        raise SpineNetLiteError(f"channel_rounding {cfg['channel_rounding']!r}: use one of {CHANNEL_ROUNDING}")
    from spinenet_lite.models.detector import NORMALIZATIONS

    if cfg["normalization"] not in NORMALIZATIONS:
        raise SpineNetLiteError(f"normalization {cfg['normalization']!r}: use one of {NORMALIZATIONS}"
                                f"{suggest(str(cfg['normalization']), NORMALIZATIONS)}")
    family.check(cfg)
    cfg["input_size"] = size
    return info, cfg


def _check_mobile(cfg: dict) -> None:
    from spinenet_lite.models.layers import SE_GATES
    from spinenet_lite.models.spinenet_mobile import RESAMPLE_ORDERS

    if cfg["resample_order"] not in RESAMPLE_ORDERS:
        raise SpineNetLiteError(f"resample_order {cfg['resample_order']!r}: use one of {RESAMPLE_ORDERS}")
    if cfg["se_gate"] not in SE_GATES:
        raise SpineNetLiteError(f"se_gate {cfg['se_gate']!r}: use one of {SE_GATES}{suggest(str(cfg['se_gate']), SE_GATES)}")


def _mobile_features(scaling, cfg: dict):
    """SpineNet-Mobile (MBConv blocks, separable head): the features function, head width, separable head."""
    from spinenet_lite.models.spinenet_mobile import mobile_features

    def fn(x):
        return mobile_features(
            x,
            filter_scale=cfg["filter_scale"] or scaling.filter_scale,
            endpoint_filters=cfg["head_filters"] or scaling.head_filters,
            activation=cfg["activation"],
            early_activation=cfg["early_activation"],
            early_max_level=int(cfg["early_max_level"]),
            stochastic_depth=float(cfg["stochastic_depth"]),
            channel_rounding=cfg["channel_rounding"] or scaling.channel_rounding,
            block_repeats=int(cfg["block_repeats"]),
            resample_order=cfg["resample_order"],
            se_activation=cfg["se_activation"],
            se_gate=cfg["se_gate"],
        )

    return fn, (cfg["head_filters"] or scaling.head_filters), True


def _full_features(scaling, cfg: dict):
    """Full-size SpineNet (residual / bottleneck blocks, plain head): features function, head width, separable."""
    from spinenet_lite.models.spinenet_full import full_features

    def fn(x):
        return full_features(
            x,
            filter_scale=cfg["filter_scale"] or scaling.filter_scale,
            endpoint_filters=cfg["endpoint_filters"] or scaling.endpoint_filters,
            resample_alpha=cfg["resample_alpha"] or scaling.resample_alpha,
            block_repeats=int(cfg["block_repeats"] or scaling.block_repeats),
            activation=cfg["activation"],
            stochastic_depth=float(cfg["stochastic_depth"]),
        )

    return fn, cfg["head_filters"], False


FAMILIES: dict[str, Family] = {
    "mobile": Family("mobile", MOBILE_SCALING, MOBILE_DEFAULTS, "SpineNet paper, Table 9", _mobile_features,
                     _check_mobile),
    "full": Family("full", FULL_SCALING, FULL_DEFAULTS, "SpineNet paper, Table 2", _full_features),
}


def _features_fn(info: ModelInfo, cfg: dict):
    """A function tensor -> {"P3".."P7"} for the resolved configuration, the head width, separable head or not."""
    family = FAMILIES[info.family]
    return family.features(family.scaling[info.name], cfg)


def create_backbone(name: str, input_size: int | None = None, **overrides):
    """The backbone alone: a functional tf_keras model, input [B, S, S, 3] 0..255, outputs {"P3".."P7"}."""
    from spinenet_lite.models.detector import build_backbone

    info, cfg = _resolve(name, input_size, overrides)
    fn, _, _ = _features_fn(info, cfg)
    return build_backbone(fn, cfg["input_size"], f"{name}_backbone", cfg["normalization"])


def create_model(name: str, num_classes: int = 80, input_size: int | None = None, **overrides):
    """A detector: input [B, S, S, 3] float32 0..255; outputs {"box_encodings": [B, N, 4],
    "class_logits": [B, N, num_classes]} in anchor order. `input_size` None means the paper's size.

    Overrides (mobile): activation, early_activation, early_max_level, stochastic_depth, channel_rounding,
    filter_scale, head_filters, head_convs, block_repeats, resample_order, se_activation, se_gate, normalization.
    (full): activation, stochastic_depth, filter_scale, endpoint_filters, resample_alpha, block_repeats,
    head_filters, head_convs, normalization.
    """
    from spinenet_lite.models.detector import build_detector

    if not isinstance(num_classes, int) or num_classes < 1:
        raise SpineNetLiteError(f"num_classes {num_classes!r}: use a positive integer (the number of class names)")
    info, cfg = _resolve(name, input_size, overrides)
    fn, head_filters, separable = _features_fn(info, cfg)
    return build_detector(fn, cfg["input_size"], num_classes, int(head_filters), separable, cfg["activation"],
                          int(cfg["head_convs"]), name, cfg["normalization"])
