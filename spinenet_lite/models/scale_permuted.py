"""The scale-permuted assembly both SpineNet families share (Section 3.1-3.3): each block gathers its two parent
features, resamples them to its own level and width, sums them and runs its block; unused intermediate blocks
join the output block of their level.

The families differ only in the block and the resampling, which they pass in as functions; layer names are fixed
here (`block{i}_in{j}_*`, `block{i}_merge*`, `block{i}*`), so checkpoints of either family keep loading.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.models import layers as L
from spinenet_lite.models.specs import BlockSpec, unused_features

# (merged input, spec, stochastic-depth rate, name prefix) -> the block's output
BlockFn = Callable[[Any, BlockSpec, float, str], Any]
# (parent tensor, parent's block type, target spatial size, target spec, name prefix) -> the resampled parent
ResampleFn = Callable[[Any, str, int, BlockSpec, str], Any]


@dataclass(frozen=True)
class StemFeature:
    """One stem output the permuted blocks may take as a parent (features 0 and 1 of the block tables)."""

    tensor: Any
    level: int
    block_fn: str


def spatial(x) -> int:
    """Height (= width) of a square NHWC feature map."""
    return int(x.shape[1])


def upsample_to(x, target_size: int, prefix: str):
    """Nearest upsampling by the whole factor that takes `x` to `target_size` (identity when it is there)."""
    size = spatial(x)
    factor = target_size // size
    if factor * size != target_size:
        raise SpineNetLiteError(
            f"input_size: feature map {size} px cannot be upsampled to {target_size} px; "
            "use an input size that is a multiple of 128"
        )
    return L.upsample_nearest(x, factor, prefix)


def level_size(size: int, level: int, target_level: int) -> int:
    """Spatial size at `target_level` of a map `size` px at `level`, halving with SAME padding (ceil)."""
    while level < target_level:
        size, level = (size + 1) // 2, level + 1
    return size


def assemble_permuted(
    specs: tuple[BlockSpec, ...],
    stem: list[StemFeature],
    block_fn: BlockFn,
    resample_fn: ResampleFn,
    activation: str,
    stochastic_depth: float,
) -> dict[int, Any]:
    """Build the permuted blocks on the stem features; return each output block by level, `{3: ..., 7: ...}`.

    Block i (1-based) is named `block{i}`; its parents are resampled under `block{i}_in{j}`, summed and activated
    under `block{i}_merge`. Target sizes derive from the last stem feature. The stochastic-depth rate grows
    linearly with the block index.
    """
    features = [f.tensor for f in stem]
    levels = [f.level for f in stem]
    fns = [f.block_fn for f in stem]
    base_size, base_level = spatial(features[-1]), levels[-1]
    unused = set(unused_features(specs, num_stem=len(stem)))
    endpoints = {}
    for i, spec in enumerate(specs, start=1):
        prefix = f"block{i}"
        target_size = level_size(base_size, base_level, spec.level)
        parents = [resample_fn(features[p], fns[p], target_size, spec, f"{prefix}_in{j}")
                   for j, p in enumerate(spec.parents)]
        if spec.is_output:  # Section 3.3: unused intermediate blocks join the output block of their level
            parents += [features[f] for f in sorted(unused) if levels[f] == spec.level]
        x = L.activation(L.add_all(parents, f"{prefix}_merge"), activation, f"{prefix}_merge")
        x = block_fn(x, spec, L.drop_rate_for(i, len(specs), stochastic_depth), prefix)
        features.append(x)
        levels.append(spec.level)
        fns.append(spec.block_fn)
        if spec.is_output:
            endpoints[spec.level] = x
    return endpoints
