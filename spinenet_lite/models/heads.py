"""Detection heads: class and box towers whose conv weights are shared across levels, with BN per level.

SpineNet-Mobile uses the SSDLite-style separable head (Appendix A); full-size SpineNet uses the RetinaNet head
(256 filters x 4 plain 3x3 convs). Outputs are flattened in anchor order (level, y, x, anchor) and concatenated
over levels, which is the order `spinenet_lite.anchors` generates.
"""
from __future__ import annotations

import math

from spinenet_lite.keras import keras
from spinenet_lite.models import layers as L

PRIOR_PROBABILITY = 0.01


def _conv(filters: int, separable: bool, name: str, use_bias: bool, bias_init="zeros"):
    """One 3x3 head conv (separable or plain), created once and called on every level."""
    if separable:
        return keras.layers.SeparableConv2D(filters, 3, padding="same", use_bias=use_bias,
                                            bias_initializer=bias_init, name=name)
    return keras.layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, bias_initializer=bias_init,
                               kernel_initializer=keras.initializers.RandomNormal(stddev=0.01), name=name)


def _tower(features: dict, filters: int, num_convs: int, separable: bool, act: str, name: str) -> dict:
    convs = [_conv(filters, separable, f"{name}_conv{i}", use_bias=False) for i in range(num_convs)]
    out = {}
    for key, x in features.items():
        for i, conv in enumerate(convs):
            x = conv(x)
            x = L.batch_norm(x, f"{name}_conv{i}_{key}")
            x = L.activation(x, act, f"{name}_conv{i}_{key}")
        out[key] = x
    return out


def detection_head(features: dict, num_classes: int, filters: int, separable: bool, activation: str,
                   num_convs: int = 4, num_anchors: int = 9) -> dict:
    """Class and box predictions for every level of `features` ({"P3": ..}), flattened and concatenated.

    Returns `{"box_encodings": [B, N, 4], "class_logits": [B, N, num_classes]}`. The class predictor's bias
    starts at -log((1 - p) / p), p = 0.01 (focal-loss prior, RetinaNet Section 4.1).
    """
    prior = -math.log((1.0 - PRIOR_PROBABILITY) / PRIOR_PROBABILITY)
    cls_feats = _tower(features, filters, num_convs, separable, activation, "class_tower")
    box_feats = _tower(features, filters, num_convs, separable, activation, "box_tower")
    cls_pred = _conv(num_anchors * num_classes, separable, "class_predict", True,
                     keras.initializers.Constant(prior))
    box_pred = _conv(num_anchors * 4, separable, "box_predict", True)
    classes, boxes = [], []
    for key in features:
        c = cls_pred(cls_feats[key])
        b = box_pred(box_feats[key])
        classes.append(keras.layers.Reshape((-1, num_classes), name=f"class_flat_{key}")(c))
        boxes.append(keras.layers.Reshape((-1, 4), name=f"box_flat_{key}")(b))
    # float32 outputs whatever the compute policy (mixed-precision training): the losses, the score threshold
    # and the box decoding stay in float32.
    return {
        "box_encodings": keras.layers.Concatenate(axis=1, dtype="float32", name="box_encodings")(boxes),
        "class_logits": keras.layers.Concatenate(axis=1, dtype="float32", name="class_logits")(classes),
    }
