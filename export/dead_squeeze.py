"""Int8 calibration of a squeeze-excite block whose squeeze is dead on every calibration image.

A squeeze-excite block reduces the pooled features with a 1x1 conv, rectifies them (ReLU) and expands them with
another 1x1 conv. When every channel of the reduce conv is negative on every calibration image (narrow squeezes of
1-2 channels do this, e.g. in Model Garden checkpoints), the rectified tensor is 0 on all of them: the converter
gives it its minimal range (scale 2e-6 / 255) and the reduce conv a requantization scale in the thousands, which
XNNPACK refuses (it takes < 256). The int8 model would clip any later positive value of that tensor to ~0 anyway,
i.e. it computes the block as a constant gate.

`dead_squeezes_revived` makes one channel of each such tensor the constant REVIVED_VALUE (kernel 0, bias the
value, so the ReLU passes it) and subtracts value x that channel's row of the expand conv from the expand conv's
bias. On every calibration image the model computes the same function (to float rounding) and the tensor's int8
range becomes [0, REVIVED_VALUE]. The weights are restored afterwards.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

import numpy as np

REVIVED_VALUE = 1.0
logger = logging.getLogger(__name__)


def _is_relu(layer) -> bool:
    from spinenet_lite.keras import keras

    if isinstance(layer, keras.layers.ReLU):
        return not layer.negative_slope and not layer.threshold
    return isinstance(layer, keras.layers.Activation) and getattr(layer.activation, "__name__", "") == "relu"


def _is_pointwise(layer) -> bool:
    from spinenet_lite.keras import keras

    return (type(layer) is keras.layers.Conv2D and tuple(layer.kernel_size) == (1, 1) and layer.use_bias
            and layer.groups == 1 and layer.activation is keras.activations.linear)


def squeezes(model) -> list[tuple]:
    """(reduce conv, ReLU, [expand convs]) of every 1x1 conv -> ReLU -> 1x1 conv(s) chain of a functional model."""
    found = []
    for layer in model.layers:
        if not _is_relu(layer) or len(layer.inbound_nodes) != 1:
            continue
        producer = layer.inbound_nodes[0].inbound_layers
        consumers = [node.outbound_layer for node in layer.outbound_nodes]
        if _is_pointwise(producer) and consumers and all(_is_pointwise(c) for c in consumers):
            found.append((producer, layer, consumers))
    return found


def dead_squeezes(model, calibration: Callable[[], Iterable[np.ndarray]], batch_size: int = 8) -> list[tuple]:
    """The squeezes whose ReLU output is 0 in every channel on every calibration image."""
    from spinenet_lite.keras import keras

    chains = squeezes(model)
    if not chains:
        return []
    probe = keras.Model(model.inputs, [reduce.output for reduce, _, _ in chains])
    peak = np.full(len(chains), -np.inf)
    images = [np.asarray(b, np.float32) for b in calibration()]
    for start in range(0, len(images), batch_size):
        outputs = probe(np.concatenate(images[start:start + batch_size]), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        peak = np.maximum(peak, [float(np.max(o)) for o in outputs])
    return [chain for chain, top in zip(chains, peak) if top <= 0.0]


@contextmanager
def dead_squeezes_revived(model, calibration: Callable[[], Iterable[np.ndarray]]) -> Iterator[list[str]]:
    """Within the block, every dead squeeze of `model` carries one constant channel (see the module's doc);
    yields the ReLU layer names changed."""
    dead = dead_squeezes(model, calibration)
    saved = [(layer, layer.get_weights()) for reduce, _, expands in dead for layer in (reduce, *expands)]
    try:
        for reduce, _, expands in dead:
            kernel, bias = reduce.get_weights()
            kernel[..., 0] = 0.0
            bias[0] = REVIVED_VALUE
            reduce.set_weights([kernel, bias])
            for expand in expands:
                kernel, bias = expand.get_weights()
                expand.set_weights([kernel, bias - REVIVED_VALUE * kernel[0, 0, 0, :]])
        if dead:
            logger.info("int8: %d squeeze-excite squeezes were 0 on every calibration image (%s); each now carries "
                        "a constant channel, same outputs", len(dead), ", ".join(r.name for _, r, _ in dead))
        yield [relu.name for _, relu, _ in dead]
    finally:
        for layer, weights in saved:
            layer.set_weights(weights)
