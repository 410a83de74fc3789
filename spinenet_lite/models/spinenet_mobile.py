"""SpineNet-Mobile backbone (Appendix A): MBConv blocks with squeeze-excite, separable cross-scale resampling.

`mobile_features(inputs, ...)` builds the graph on a tensor and returns `{"P3": ..., "P7": ...}`; the registry
wraps it in a functional model (alone, or under the detection head).
"""
from __future__ import annotations

from spinenet_lite.models import layers as L
from spinenet_lite.models.scale_permuted import StemFeature, assemble_permuted, spatial, upsample_to
from spinenet_lite.models.specs import (
    MOBILE_BLOCKS,
    MOBILE_EXPAND_RATIO,
    MOBILE_LEVEL_FILTERS,
    MOBILE_SE_RATIO,
    BlockSpec,
    scale_channels,
)


RESAMPLE_ORDERS = ("match_first", "paper")


def resample_sepconv(x, target_size: int, target_filters: int, act: str, prefix: str, order: str = "match_first"):
    """Appendix A resampling: depthwise 3x3/2 -> BN -> act until the size matches (or nearest upsampling),
    then 1x1 conv to the target width -> BN (no activation).

    When upsampling, the 1x1 conv and BN run first, at the parent's resolution: both act per pixel, so they
    commute with nearest upsampling exactly (same function, same weights) at 1/factor^2 of the multiply-adds,
    and the upsample copies the narrower map (49xxs at 256 px: 2.2% fewer MACs than the paper's order).
    `order="paper"` upsamples first, as the paper and the Model Garden do (for comparing counts with theirs).
    """
    step = 0
    while spatial(x) > target_size:
        x = L.depthwise_bn_act(x, 3, 2, act, f"{prefix}_down{step}")
        step += 1
    if order == "paper":
        x = upsample_to(x, target_size, prefix)
        return L.conv_bn_act(x, target_filters, 1, 1, None, f"{prefix}_match")
    x = L.conv_bn_act(x, target_filters, 1, 1, None, f"{prefix}_match")
    return upsample_to(x, target_size, prefix)


def mobile_features(
    inputs,
    filter_scale: float,
    endpoint_filters: int,
    activation: str = "swish",
    early_activation: str | None = None,
    early_max_level: int = 2,
    stochastic_depth: float = 0.2,
    channel_rounding: str = "truncate",
    block_repeats: int = 1,
    resample_order: str = "match_first",
    se_activation: str | None = None,
    se_gate: str = "sigmoid",
    blocks: tuple[BlockSpec, ...] = MOBILE_BLOCKS,
    min_level: int = 3,
    max_level: int = 7,
) -> dict:
    """Build the SpineNet-Mobile graph on `inputs` (already normalised) and return P`min_level`..P`max_level`.

    Each endpoint is the output block of that level -> 1x1 conv to `endpoint_filters` -> BN -> act.
    `early_activation` (e.g. relu6) replaces `activation` on the expanded tensors (1x1 expand, depthwise) of the
    MBConv blocks at level <= `early_max_level`: they have the most elements (six times the block's width, at the
    highest resolutions), and ReLU/ReLU6 fuse into the convolution in int8. The narrow tensors (stem conv,
    resampling, merges, the 1-4 channel squeeze) keep `activation`: a rectifier there zeroes half of a few
    channels, and a dead 1-channel squeeze is an all-zero tensor whose int8 scale XNNPACK rejects (it aborted).
    """

    def act_at(level: int) -> str:
        return early_activation if early_activation and level <= early_max_level else activation

    def width(level: int) -> int:
        return scale_channels(MOBILE_LEVEL_FILTERS[level], filter_scale, channel_rounding)

    def block_group(x, out_filters: int, strides: int, drop: float, prefix: str, act: str):
        for r in range(block_repeats):
            x = L.mbconv(x, out_filters, strides if r == 0 else 1, MOBILE_EXPAND_RATIO, MOBILE_SE_RATIO,
                         act, drop, f"{prefix}_r{r}" if block_repeats > 1 else prefix,
                         se_act=se_activation or activation, se_gate=se_gate)
        return x

    def block(x, spec: BlockSpec, drop: float, prefix: str):
        return block_group(x, width(spec.level), 1, drop, prefix, act_at(spec.level))

    def resample(x, source_fn: str, target_size: int, spec: BlockSpec, prefix: str):
        return resample_sepconv(x, target_size, width(spec.level), activation, prefix, resample_order)

    x = L.conv_bn_act(inputs, width(0), 3, 2, activation, "stem")
    x = block_group(x, width(1), 1, 0.0, "stem_block1", act_at(1))
    stem = [StemFeature(x, 1, "mbconv")]
    x = block_group(x, width(2), 2, 0.0, "stem_block2", act_at(2))
    stem.append(StemFeature(x, 2, "mbconv"))
    endpoints = assemble_permuted(blocks, stem, block, resample, activation, stochastic_depth)
    return L.endpoint_outputs(endpoints, min_level, max_level, endpoint_filters, activation)
