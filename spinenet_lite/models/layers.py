"""The repeated layer patterns, each written once: conv+BN+act, activations, squeeze-excite, MBConv,
ResNet bottleneck/residual blocks, nearest upsampling and stochastic depth.

Everything is stock tf_keras layers (quantization-aware training and TFLite handle them), except the tiny
`StochasticDepth`, which is the identity at inference.
"""
from __future__ import annotations

from spinenet_lite.keras import keras, tf

ACTIVATIONS = ("swish", "relu", "relu6", "hard_swish")
# Squeeze-excite gates: "sigmoid" (EfficientNet, our default) or the Model Garden's SpineNet-Mobile
# "hard_sigmoid" = relu6(x + 3) * 0.16667 (its constant, not 1/6, so imported weights compute the same function).
SE_GATES = ("sigmoid", "hard_sigmoid")
_HARD_SIGMOID_SCALE = 0.16667
# 0.9, not the Model Garden's 0.99: with 0.99 the moving variance needs ~500 steps to forget its initial 1.0,
# and a short run (quickstart, small datasets) ends with inference-mode activations shrinking layer by layer
# (measured: moving variance ~0.5 against batch variance ~1e-6 deep in the net after 288 steps, AP50 = 0).
_BN_MOMENTUM = 0.9
_BN_EPSILON = 1e-3


@keras.utils.register_keras_serializable(package="spinenet_lite")
class StochasticDepth(keras.layers.Layer):
    """Drop-connect on a residual branch: per sample, zero the branch with probability `rate` while training and
    scale the kept ones by 1/(1-rate); the identity at inference (so it vanishes from exported graphs)."""

    def __init__(self, rate: float, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)

    def call(self, inputs, training=None):
        if not training or self.rate <= 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = tf.concat([tf.shape(inputs)[:1], tf.ones([tf.rank(inputs) - 1], tf.int32)], axis=0)
        mask = tf.floor(keep + tf.random.uniform(shape, dtype=inputs.dtype))
        return inputs / keep * mask

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}


def activation(x, name: str, prefix: str):
    """Apply an activation with stock layers. hard_swish = x * clip(x/6 + 1/2, 0, 1), no Lambda needed."""
    if name == "swish":
        return keras.layers.Activation("swish", name=f"{prefix}_swish")(x)
    if name == "relu":
        return keras.layers.ReLU(name=f"{prefix}_relu")(x)
    if name == "relu6":
        return keras.layers.ReLU(6.0, name=f"{prefix}_relu6")(x)
    if name == "hard_swish":
        gate = keras.layers.Rescaling(1.0 / 6.0, offset=0.5, name=f"{prefix}_hs_lin")(x)
        gate = keras.layers.ReLU(1.0, name=f"{prefix}_hs_clip")(gate)
        return keras.layers.Multiply(name=f"{prefix}_hswish")([x, gate])
    raise ValueError(f"activation {name!r}: use one of {ACTIVATIONS}")


def batch_norm(x, prefix: str):
    """BatchNormalization with the project's momentum/epsilon."""
    return keras.layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=f"{prefix}_bn")(x)


def conv_bn_act(x, filters: int, kernel: int, strides: int, act: str | None, prefix: str):
    """Conv2D (no bias) -> BN -> optional activation."""
    x = keras.layers.Conv2D(filters, kernel, strides, padding="same", use_bias=False, name=f"{prefix}_conv")(x)
    x = batch_norm(x, prefix)
    return activation(x, act, prefix) if act else x


def depthwise_bn_act(x, kernel: int, strides: int, act: str | None, prefix: str):
    """DepthwiseConv2D (no bias) -> BN -> optional activation."""
    x = keras.layers.DepthwiseConv2D(kernel, strides, padding="same", use_bias=False, name=f"{prefix}_dw")(x)
    x = batch_norm(x, f"{prefix}_dw")
    return activation(x, act, f"{prefix}_dw") if act else x


def upsample_nearest(x, factor: int, prefix: str):
    """Nearest-neighbour upsampling by `factor`, as copies and reshapes: each pixel is repeated along a new width
    axis, then each row along a new height axis. UpSampling2D lowers to RESIZE_NEAREST_NEIGHBOR, which the
    XNNPACK delegate leaves to the interpreter in int8 (a partition break per upsample); CONCATENATION and
    RESHAPE stay inside XNNPACK. Stock layers only, so quantization-aware training handles them."""
    if factor == 1:
        return x
    _, height, width, channels = x.shape
    y = keras.layers.Reshape((height, width, 1, channels), name=f"{prefix}_up{factor}_w")(x)
    y = keras.layers.Concatenate(axis=3, name=f"{prefix}_up{factor}_wcopy")([y] * factor)
    y = keras.layers.Reshape((height, 1, width * factor, channels), name=f"{prefix}_up{factor}_h")(y)
    y = keras.layers.Concatenate(axis=2, name=f"{prefix}_up{factor}_hcopy")([y] * factor)
    return keras.layers.Reshape((height * factor, width * factor, channels), name=f"{prefix}_up{factor}")(y)


def se_gate(x, gate: str, prefix: str):
    """The squeeze-excite gate (see SE_GATES), with stock layers."""
    if gate == "sigmoid":
        return keras.layers.Activation("sigmoid", name=f"{prefix}_se_sigmoid")(x)
    if gate == "hard_sigmoid":
        x = keras.layers.Rescaling(1.0, offset=3.0, name=f"{prefix}_se_hs_shift")(x)
        x = keras.layers.ReLU(6.0, name=f"{prefix}_se_hs_clip")(x)
        return keras.layers.Rescaling(_HARD_SIGMOID_SCALE, name=f"{prefix}_se_hsigmoid")(x)
    raise ValueError(f"se_gate {gate!r}: use one of {SE_GATES}")


def squeeze_excite(x, reduced: int, act: str, prefix: str, gate: str = "sigmoid"):
    """Squeeze-excite: GAP(keepdims) -> 1x1 conv -> act -> 1x1 conv -> gate -> multiply."""
    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}_se_pool")(x)
    s = keras.layers.Conv2D(reduced, 1, name=f"{prefix}_se_reduce")(s)
    s = activation(s, act, f"{prefix}_se")
    s = keras.layers.Conv2D(channels, 1, name=f"{prefix}_se_expand")(s)
    s = se_gate(s, gate, prefix)
    return keras.layers.Multiply(name=f"{prefix}_se_scale")([x, s])


def residual_add(shortcut, branch, drop_rate: float, prefix: str):
    """shortcut + stochastic_depth(branch)."""
    if drop_rate > 0:
        branch = StochasticDepth(drop_rate, name=f"{prefix}_drop")(branch)
    return keras.layers.Add(name=f"{prefix}_add")([shortcut, branch])


def add_all(tensors: list, name: str):
    """Sum of one or more tensors (a named Add layer when there is more than one)."""
    return tensors[0] if len(tensors) == 1 else keras.layers.Add(name=name)(tensors)


def mbconv(x, out_filters: int, strides: int, expand_ratio: int, se_ratio: float, act: str, drop_rate: float,
           prefix: str, se_act: str | None = None, se_gate: str = "sigmoid"):
    """MBConv (inverted bottleneck): 1x1 expand -> 3x3 depthwise -> squeeze-excite -> 1x1 project (+ residual).

    The squeeze width is `max(1, int(in_filters * se_ratio))` (of the block input, as EfficientNet does);
    `se_act` (default `act`) activates it and `se_gate` (see SE_GATES) gates the expanded tensor.
    """
    in_filters = x.shape[-1]
    y = x
    if expand_ratio != 1:
        y = conv_bn_act(y, in_filters * expand_ratio, 1, 1, act, f"{prefix}_expand")
    y = depthwise_bn_act(y, 3, strides, act, prefix)
    if se_ratio > 0:
        y = squeeze_excite(y, max(1, int(in_filters * se_ratio)), se_act or act, prefix, se_gate)
    y = conv_bn_act(y, out_filters, 1, 1, None, f"{prefix}_project")
    if strides == 1 and in_filters == out_filters:
        y = residual_add(x, y, drop_rate, prefix)
    return y


def bottleneck(x, filters: int, strides: int, act: str, drop_rate: float, prefix: str, expansion: int = 4):
    """ResNet bottleneck: 1x1 (C) -> 3x3 (C, stride) -> 1x1 (4C), projection shortcut when shapes change."""
    out = filters * expansion
    shortcut = x
    if strides != 1 or x.shape[-1] != out:
        shortcut = conv_bn_act(x, out, 1, strides, None, f"{prefix}_proj")
    y = conv_bn_act(x, filters, 1, 1, act, f"{prefix}_a")
    y = conv_bn_act(y, filters, 3, strides, act, f"{prefix}_b")
    y = conv_bn_act(y, out, 1, 1, None, f"{prefix}_c")
    return activation(residual_add(shortcut, y, drop_rate, prefix), act, f"{prefix}_out")


def residual(x, filters: int, strides: int, act: str, drop_rate: float, prefix: str):
    """ResNet basic residual block: 3x3 -> 3x3, projection shortcut when shapes change."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv_bn_act(x, filters, 1, strides, None, f"{prefix}_proj")
    y = conv_bn_act(x, filters, 3, strides, act, f"{prefix}_a")
    y = conv_bn_act(y, filters, 3, 1, None, f"{prefix}_b")
    return activation(residual_add(shortcut, y, drop_rate, prefix), act, f"{prefix}_out")


def drop_rate_for(block_index: int, num_blocks: int, max_rate: float) -> float:
    """Stochastic-depth rate growing linearly with the (1-based) block index up to `max_rate`."""
    return float(max_rate) * block_index / num_blocks


def endpoint_outputs(endpoints: dict, min_level: int, max_level: int, filters: int, act: str) -> dict:
    """The backbone outputs {"P3".."P7"}: each level's output block -> 1x1 conv to `filters` -> BN -> act."""
    from spinenet_lite.errors import SpineNetLiteError

    out = {}
    for level in range(min_level, max_level + 1):
        if level not in endpoints:
            raise SpineNetLiteError(f"max_level/min_level: no output block at level {level}; use levels 3..7")
        out[f"P{level}"] = conv_bn_act(endpoints[level], filters, 1, 1, act, f"P{level}")
    return out
