"""Assemble a detector: 0..255 input -> normalisation -> backbone features -> detection head.

The input normalisation is the model's first layer, so an int8 export with uint8 input is exact.
"""
from __future__ import annotations

from typing import Callable

from spinenet_lite.keras import keras
from spinenet_lite.models.heads import detection_head


# Input normalisations: "unit" maps 0..255 to [-1, 1] (our default); "imagenet" is the Model Garden's
# (x - 255 * mean) / (255 * std) per channel with the ImageNet RGB mean/std, which its checkpoints expect.
NORMALIZATIONS = ("unit", "imagenet")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def image_input(input_size: int, normalization: str = "unit"):
    """The `[B, S, S, 3]` float32 0..255 input and its normalised version (see NORMALIZATIONS)."""
    inputs = keras.Input(shape=(input_size, input_size, 3), dtype="float32", name="image")
    if normalization == "unit":
        return inputs, keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalize")(inputs)
    if normalization == "imagenet":
        scale = [1.0 / (255.0 * s) for s in IMAGENET_STD]
        offset = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
        return inputs, keras.layers.Rescaling(scale, offset=offset, name="normalize")(inputs)
    raise ValueError(f"normalization {normalization!r}: use one of {NORMALIZATIONS}")


def build_backbone(features_fn: Callable, input_size: int, name: str, normalization: str = "unit") -> keras.Model:
    """A functional model whose outputs are `{"P3": ..., "P7": ...}`."""
    inputs, x = image_input(input_size, normalization)
    return keras.Model(inputs, features_fn(x), name=name)


def build_detector(features_fn: Callable, input_size: int, num_classes: int, head_filters: int,
                   separable_head: bool, head_activation: str, head_convs: int, name: str,
                   normalization: str = "unit") -> keras.Model:
    """A functional model whose outputs are `{"box_encodings": [B, N, 4], "class_logits": [B, N, C]}`."""
    inputs, x = image_input(input_size, normalization)
    outputs = detection_head(features_fn(x), num_classes, head_filters, separable_head, head_activation,
                             num_convs=head_convs)
    return keras.Model(inputs, outputs, name=name)
