"""Multi-level anchor boxes (RetinaNet / SpineNet, paper Section 4.1 and Appendix A).

The anchor order is part of the model's contract: the head, the loss targets, the Keras post-processing,
``TFLite_Detection_PostProcess`` and the Android decoder all read anchors in this order:
level (3..7), then row y, then column x, then ``a = scale_index * num_aspect_ratios + aspect_index``.
Anchors are normalised by the input size S and laid out ``[ycenter, xcenter, h, w]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from spinenet_lite.errors import SpineNetLiteError


def feature_size(input_size: int, level: int) -> int:
    """Side of the square feature map at ``level`` for an S x S input: ceil(S / 2**level)."""
    return int(math.ceil(input_size / 2**level))


def anchors_per_location(num_scales: int = 3, aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0)) -> int:
    """Anchors at each feature-map location (9 for 3 scales x 3 aspect ratios)."""
    return num_scales * len(aspect_ratios)


def num_anchors(input_size: int, min_level: int = 3, max_level: int = 7, num_scales: int = 3,
                aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0)) -> int:
    """Total anchor count N without building the anchors (12,276 at 256 px, 27,621 at 384 px)."""
    per_loc = anchors_per_location(num_scales, aspect_ratios)
    return sum(feature_size(input_size, lvl) ** 2 * per_loc for lvl in range(min_level, max_level + 1))


def _check(input_size: int, min_level: int, max_level: int, num_scales: int,
           aspect_ratios: Sequence[float], anchor_size: float) -> None:
    if int(input_size) != input_size or input_size < 1:
        raise SpineNetLiteError(f"anchors: input_size={input_size!r} must be a positive integer; "
                                "set model.input_size to e.g. 256 or 384")
    if not 1 <= min_level <= max_level:
        raise SpineNetLiteError(f"anchors: levels {min_level}..{max_level} are invalid; "
                                "use 1 <= min_level <= max_level (default 3..7)")
    if num_scales < 1 or not aspect_ratios or any(ar <= 0 for ar in aspect_ratios) or anchor_size <= 0:
        raise SpineNetLiteError("anchors: num_scales must be >= 1, aspect_ratios non-empty and > 0, "
                                "anchor_size > 0; use the defaults (3, (0.5, 1, 2), 3.0)")


def generate_anchors(input_size: int, min_level: int = 3, max_level: int = 7, num_scales: int = 3,
                     aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0), anchor_size: float = 3.0) -> np.ndarray:
    """All anchors for an S x S input as float32 ``[N, 4]`` normalised ``[yc, xc, h, w]``.

    At level l the stride is 2**l, centres are ``(i + 0.5) * 2**l`` and the base side is
    ``anchor_size * 2**l``; scale ``2**(i / num_scales)`` and aspect ratio ar = w / h give
    ``h = base * scale / sqrt(ar)``, ``w = base * scale * sqrt(ar)``.
    """
    _check(input_size, min_level, max_level, num_scales, aspect_ratios, anchor_size)
    size = float(input_size)
    # Per-location shapes in order a = scale_index * len(aspect_ratios) + aspect_index.
    shapes = np.array([(anchor_size * 2.0 ** (s / num_scales) / math.sqrt(ar),
                        anchor_size * 2.0 ** (s / num_scales) * math.sqrt(ar))
                       for s in range(num_scales) for ar in aspect_ratios], dtype=np.float64)
    per_level = []
    for level in range(min_level, max_level + 1):
        stride = 2.0**level
        n = feature_size(input_size, level)
        centres = (np.arange(n, dtype=np.float64) + 0.5) * stride
        yc, xc = np.meshgrid(centres, centres, indexing="ij")  # [n, n], row-major: y then x
        a = shapes.shape[0]
        grid = np.empty((n, n, a, 4), dtype=np.float64)
        grid[..., 0] = yc[:, :, None]
        grid[..., 1] = xc[:, :, None]
        grid[..., 2] = shapes[None, None, :, 0] * stride
        grid[..., 3] = shapes[None, None, :, 1] * stride
        per_level.append(grid.reshape(-1, 4))
    return (np.concatenate(per_level, axis=0) / size).astype(np.float32)


def anchors_yxyx(anchors: np.ndarray) -> np.ndarray:
    """Convert ``[yc, xc, h, w]`` anchors to corner form ``[ymin, xmin, ymax, xmax]`` (numpy, same scale)."""
    anchors = np.asarray(anchors, dtype=np.float32)
    half = anchors[:, 2:] / 2.0
    return np.concatenate([anchors[:, :2] - half, anchors[:, :2] + half], axis=1)


@dataclass(frozen=True)
class AnchorGrid:
    """The anchors of ``generate_anchors`` described by their grid, so target assignment can look only at the
    anchors near each box instead of all N (``spinenet_lite.targets``)."""

    input_size: int
    min_level: int = 3
    max_level: int = 7
    num_scales: int = 3
    aspect_ratios: tuple = (0.5, 1.0, 2.0)
    anchor_size: float = 3.0

    @classmethod
    def of(cls, anchors) -> "AnchorGrid | None":
        """The default-argument grid whose anchors equal this ``[N, 4]`` array exactly, else None."""
        anchors = np.asarray(anchors)
        if anchors.ndim != 2 or anchors.shape[1] != 4 or not len(anchors):
            return None
        low, high = 1, 1
        while num_anchors(high) < len(anchors):  # N grows with S: bisect for the first S with N anchors
            low, high = high, high * 2
        while low < high:
            mid = (low + high) // 2
            low, high = (mid + 1, high) if num_anchors(mid) < len(anchors) else (low, mid)
        size = low
        while num_anchors(size) == len(anchors):  # several sizes share N when a level's map is 1 x 1
            if np.array_equal(generate_anchors(size), anchors):
                return cls(size)
            size += 1
        return None

    def anchors(self) -> np.ndarray:
        """The same ``[N, 4]`` array as ``generate_anchors`` with these arguments."""
        return generate_anchors(self.input_size, self.min_level, self.max_level, self.num_scales,
                                tuple(self.aspect_ratios), self.anchor_size)

    def shapes(self) -> dict[str, np.ndarray]:
        """One row per (level, shape a): normalised stride, feature size, first anchor index of the level,
        a, anchor h and w (normalised), and the number of shapes per location."""
        per_loc = anchors_per_location(self.num_scales, self.aspect_ratios)
        rows, offset = [], 0
        for level in range(self.min_level, self.max_level + 1):
            stride, n = 2.0**level, feature_size(self.input_size, level)
            a = 0
            for s in range(self.num_scales):
                for ar in self.aspect_ratios:
                    side = self.anchor_size * 2.0 ** (s / self.num_scales) * stride
                    rows.append((stride / self.input_size, n, offset, a, side / math.sqrt(ar) / self.input_size,
                                 side * math.sqrt(ar) / self.input_size))
                    a += 1
            offset += n * n * per_loc
        table = np.array(rows, np.float64)
        return {"stride": table[:, 0].astype(np.float32), "size": table[:, 1].astype(np.int32),
                "offset": table[:, 2].astype(np.int32), "a": table[:, 3].astype(np.int32),
                "h": table[:, 4].astype(np.float32), "w": table[:, 5].astype(np.float32),
                "per_location": np.int32(per_loc)}
