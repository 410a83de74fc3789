"""Full-size SpineNet backbone (Section 3, Fig. 4): ResNet bottleneck/residual blocks, resampling with alpha.

`full_features(inputs, ...)` builds the graph on a tensor and returns `{"P3": ..., "P7": ...}`.
"""
from __future__ import annotations

from spinenet_lite.keras import keras
from spinenet_lite.models import layers as L
from spinenet_lite.models.scale_permuted import StemFeature, assemble_permuted, spatial, upsample_to
from spinenet_lite.models.specs import BOTTLENECK_EXPANSION, FULL_BLOCKS, FULL_LEVEL_FILTERS, BlockSpec


def _expansion(block_fn: str) -> int:
    return BOTTLENECK_EXPANSION if block_fn == "bottleneck" else 1


def resample_with_alpha(x, source_fn: str, target_size: int, target_filters: int, target_fn: str, alpha: float,
                   act: str, prefix: str):
    """Section 3.2 resampling: 1x1 to alpha*C -> (3x3/2 conv, then 3x3/2 max-pools | nearest upsampling)
    -> 1x1 to the target block's input width -> BN (no activation)."""
    reduced = int(x.shape[-1] // _expansion(source_fn) * alpha)
    x = L.conv_bn_act(x, reduced, 1, 1, act, f"{prefix}_alpha")
    if spatial(x) > target_size:
        x = L.conv_bn_act(x, reduced, 3, 2, act, f"{prefix}_down")
        step = 0
        while spatial(x) > target_size:
            x = keras.layers.MaxPool2D(3, 2, padding="same", name=f"{prefix}_pool{step}")(x)
            step += 1
    else:
        x = upsample_to(x, target_size, prefix)
    return L.conv_bn_act(x, target_filters * _expansion(target_fn), 1, 1, None, f"{prefix}_match")


def full_features(
    inputs,
    filter_scale: float,
    endpoint_filters: int,
    resample_alpha: float,
    block_repeats: int,
    activation: str = "relu",
    stochastic_depth: float = 0.0,
    blocks: tuple[BlockSpec, ...] = FULL_BLOCKS,
    min_level: int = 3,
    max_level: int = 7,
) -> dict:
    """Build full-size SpineNet on `inputs` (already normalised) and return P`min_level`..P`max_level`.

    Widths truncate, `int(C * filter_scale)`, as the Model Garden does. Repeated blocks chain (each repeat
    takes the previous repeat's output).
    """

    def block_group(x, block_fn: str, filters: int, drop: float, prefix: str):
        for r in range(block_repeats):
            name = f"{prefix}_r{r}" if block_repeats > 1 else prefix
            if block_fn == "bottleneck":
                x = L.bottleneck(x, filters, 1, activation, drop, name, BOTTLENECK_EXPANSION)
            else:
                x = L.residual(x, filters, 1, activation, drop, name)
        return x

    def width(level: int) -> int:
        return int(FULL_LEVEL_FILTERS[level] * filter_scale)

    def block(x, spec: BlockSpec, drop: float, prefix: str):
        return block_group(x, spec.block_fn, width(spec.level), drop, prefix)

    def resample(x, source_fn: str, target_size: int, spec: BlockSpec, prefix: str):
        return resample_with_alpha(x, source_fn, target_size, width(spec.level), spec.block_fn, resample_alpha,
                                   activation, prefix)

    x = L.conv_bn_act(inputs, 64, 7, 2, activation, "stem")
    x = keras.layers.MaxPool2D(3, 2, padding="same", name="stem_pool")(x)
    stem = []
    for i in range(2):
        x = block_group(x, "bottleneck", width(2), 0.0, f"stem_block{i + 1}")
        stem.append(StemFeature(x, 2, "bottleneck"))
    endpoints = assemble_permuted(blocks, stem, block, resample, activation, stochastic_depth)
    return L.endpoint_outputs(endpoints, min_level, max_level, endpoint_filters, activation)
