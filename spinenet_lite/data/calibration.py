"""Calibration images for int8: the first training images of a recipe's data, letterboxed by the one
pre-processing. Post-training quantization (export) and quantization-aware training (qat) both read them."""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from spinenet_lite.errors import SpineNetLiteError


def calibration_images(recipe, input_size: int, count: int) -> Callable[[], Iterator[np.ndarray]]:
    """A generator factory over the first `count` training images of the recipe's data, letterboxed."""
    from spinenet_lite.data import load_dataset
    from spinenet_lite.preprocess import letterbox, load_image

    samples = list(load_dataset(recipe.data, "train").samples)[:count]
    if not samples:
        raise SpineNetLiteError(f"data {recipe.data.root or recipe.data.format}: no training images for int8 "
                                "calibration; check the recipe's data section")
    paths = [s.path for s in samples]

    def generate() -> Iterator[np.ndarray]:
        for path in paths:
            image, _ = letterbox(load_image(path), input_size)
            yield np.asarray(image, np.float32)[None]
    return generate


def calibration_batches(recipe, count: int, batch_size: int = 8) -> list:
    """The first `count` training images of the recipe's data, letterboxed, in float32 batches."""
    images = [b[0] for b in calibration_images(recipe, int(recipe.model.input_size), count)()]
    return [np.stack(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
