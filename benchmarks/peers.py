"""The paper's Table 9 peers: MobileNetV3-Small / -Large with an SSDLite head, built here at our input sizes.

SSDLite as in the MobileNetV3 paper (Howard et al. 2019, Section 6.2): the first detection layer is the
expansion layer of the stride-16 block's successor (the 1x1 expansion feeding the stride-32 depthwise), the second
is the backbone's last 1x1 conv (C5), then four extra layers of [1x1 conv to d/2 -> separable 3x3 stride 2 to d]
with d = 512, 256, 256, 128: six levels, six anchors per location. Every predictor is a separable 3x3 conv
(depthwise 3x3 -> BN -> ReLU6 -> 1x1). The outputs follow our contract, `{"box_encodings": [B, N, 4],
"class_logits": [B, N, C]}`, so peers convert, run and count exactly like our models.

Known gap to the paper's counts: the MobileNetV3 paper also halves the channels of the backbone's last blocks
for detection ("reduced tail"); the Keras application has no such switch, so our peers carry a few more MACs and
parameters than Table 9 (printed side by side).
"""
from __future__ import annotations

from dataclasses import dataclass

from spinenet_lite.errors import SpineNetLiteError, suggest


@dataclass(frozen=True)
class PeerSpec:
    """One peer: the Keras application, the layer whose input is the C4 expansion, its default input size."""

    application: str
    c4_layer: str
    input_size: int
    paper_name: str


PEERS = {
    "mobilenetv3-small-ssdlite": PeerSpec("MobileNetV3Small", "expanded_conv_8/depthwise/pad", 256,
                                          "MobileNetV3-Small-SSDLite"),
    "mobilenetv3-large-ssdlite": PeerSpec("MobileNetV3Large", "expanded_conv_12/depthwise/pad", 384,
                                          "MobileNetV3-SSDLite"),
}
EXTRA_DEPTHS = (512, 256, 256, 128)
ANCHORS_PER_LOCATION = 6


def list_peers() -> list[str]:
    """Registered peer names."""
    return list(PEERS)


def _bn_relu6(x, name: str):
    from spinenet_lite.keras import keras

    x = keras.layers.BatchNormalization(momentum=0.997, epsilon=1e-3, name=f"{name}/bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}/relu6")(x)


def _separable_predictor(x, filters: int, name: str, bias: float = 0.0):
    """Depthwise 3x3 -> BN -> ReLU6 -> 1x1 conv with bias (the SSDLite box / class predictor)."""
    from spinenet_lite.keras import keras

    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}/dw")(x)
    x = _bn_relu6(x, f"{name}/dw")
    init = keras.initializers.Constant(bias)
    return keras.layers.Conv2D(filters, 1, bias_initializer=init, name=f"{name}/pw")(x)


def _extra_layer(x, depth: int, name: str):
    """1x1 conv to depth/2 -> separable 3x3 stride 2 to depth, each conv followed by BN + ReLU6."""
    from spinenet_lite.keras import keras

    x = keras.layers.Conv2D(depth // 2, 1, use_bias=False, name=f"{name}/reduce")(x)
    x = _bn_relu6(x, f"{name}/reduce")
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False, name=f"{name}/dw")(x)
    x = _bn_relu6(x, f"{name}/dw")
    x = keras.layers.Conv2D(depth, 1, use_bias=False, name=f"{name}/pw")(x)
    return _bn_relu6(x, f"{name}/pw")


def create_peer(name: str, num_classes: int = 80, input_size: int | None = None):
    """Build a peer detector with random weights (latency and counts do not depend on the weights)."""
    import math

    from spinenet_lite.keras import keras

    if name not in PEERS:
        raise SpineNetLiteError(f"peer {name!r}: unknown{suggest(name, PEERS)}; choose one of {', '.join(PEERS)}")
    spec = PEERS[name]
    size = input_size or spec.input_size
    backbone = getattr(keras.applications, spec.application)(
        input_shape=(size, size, 3), include_top=False, weights=None, minimalistic=False,
        include_preprocessing=True)
    features = [backbone.get_layer(spec.c4_layer).input, backbone.output]
    x = backbone.output
    for i, depth in enumerate(EXTRA_DEPTHS):
        x = _extra_layer(x, depth, f"extra_{i}")
        features.append(x)
    boxes, logits = [], []
    prior_bias = -math.log((1 - 0.01) / 0.01)
    for level, feature in enumerate(features):
        h, w = feature.shape[1], feature.shape[2]
        box = _separable_predictor(feature, ANCHORS_PER_LOCATION * 4, f"box_{level}")
        cls = _separable_predictor(feature, ANCHORS_PER_LOCATION * num_classes, f"class_{level}", prior_bias)
        boxes.append(keras.layers.Reshape((h * w * ANCHORS_PER_LOCATION, 4), name=f"box_{level}/flat")(box))
        logits.append(keras.layers.Reshape((h * w * ANCHORS_PER_LOCATION, num_classes),
                                           name=f"class_{level}/flat")(cls))
    outputs = {
        "box_encodings": keras.layers.Concatenate(axis=1, name="box_encodings")(boxes),
        "class_logits": keras.layers.Concatenate(axis=1, name="class_logits")(logits),
    }
    return keras.Model(backbone.input, outputs, name=f"{name.replace('-', '_')}_{size}")


def peer_ratios(rows: list) -> list[tuple[str, str, str, int, float, float, float]]:
    """(ours, peer, format, threads, ours ms, peer ms, ours / peer) for every registry model and peer measured at
    the same input size, format and threads (49xxs beside Small at 256, 49xs beside Large at 384)."""
    out = []
    for row in (r for r in rows if r.source == "registry"):
        for peer in rows:
            if peer.source == "peer" and (peer.input_size, peer.format, peer.threads) == (
                    row.input_size, row.format, row.threads):
                out.append((row.model, peer.model, row.format, row.threads, row.median_ms, peer.median_ms,
                            row.median_ms / peer.median_ms))
    return out


def peer_ratio_markdown(rows: list) -> str:
    """The ours / peer latency table (the target: 49xs int8 no slower than MobileNetV3-Large int8)."""
    from spinenet_lite.benchmarks.report import markdown_table

    return markdown_table(["ours", "peer", "format", "threads", "ours ms", "peer ms", "ours / peer"],
                          [[a, b, f, str(t), f"{x:.2f}", f"{y:.2f}", f"{r:.2f}"]
                           for a, b, f, t, x, y, r in peer_ratios(rows)],
                          empty="No pair measured (a registry model and a peer at the same input size).")


def peers_markdown(candidates: list) -> str:
    """Our peers' counts beside the paper's Table 9 numbers for the same architecture."""
    table9 = {"MobileNetV3-Small-SSDLite": (0.16, 1.77, 16.1), "MobileNetV3-SSDLite": (0.51, 3.22, 22.0)}
    lines = ["| peer | input | params M (ours) | MACs B (ours) | params M (Table 9) | MACs B (Table 9) | AP (Table 9) |",
             "|---|---|---|---|---|---|---|"]
    for c in candidates:
        if c.source == "peer":
            macs, params, ap = table9[PEERS[c.name].paper_name]
            lines.append(f"| {c.name} | {c.input_size} | {c.params_m:.2f} | {c.macs_b:.3f} | {params} | {macs} | {ap} |")
    return "\n".join(lines)
