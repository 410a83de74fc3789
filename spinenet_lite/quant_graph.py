"""The QAT graph: a tf_keras detector rewritten and annotated for tensorflow-model-optimization's 8-bit scheme.

`quantize_model` refuses layers its default 8-bit registry does not know (the squeeze-excite and hard-swish
`Multiply`, custom layers such as StochasticDepth). Those are annotated here with explicit configs:
`OutputQuantizeConfig` fake-quantizes only the layer's output (what TFLite does for an int8 MUL), and
`NoOpQuantizeConfig` leaves identity-at-inference layers alone. Conv + BN pairs keep tfmot's folding, and a
conv shared by several pyramid levels gets one output range per level, so the quantized graph is the one TFLite
runs. `calibrate_ranges` sets the activation ranges from real images; `spinenet_lite.qat` trains the result.
"""
from __future__ import annotations

import functools

from spinenet_lite.errors import SpineNetLiteError


def require_tfmot():
    """tensorflow_model_optimization, or one clear line when it is not installed."""
    try:
        import tensorflow_model_optimization as tfmot
    except ImportError:
        raise SpineNetLiteError("qat: tensorflow-model-optimization is not installed; pip install spinenet-lite") from None
    return tfmot


@functools.lru_cache(maxsize=None)
def quantize_configs() -> dict:
    """The QuantizeConfig classes this module adds (for quantize_scope).

    Created once per process: classes rebuilt on every call made tf.autograph's code-object cache hand one
    class's converted method to another (`set_quantize_weights` ran `get_activations_and_quantizers`).
    """
    tfmot = require_tfmot()
    quantizers = tfmot.quantization.keras.quantizers

    class OutputQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
        """Quantize only the output: layers without weights whose int8 kernel rescales its output."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                      narrow_range=False)]

        def get_config(self):
            return {}

    class NoOpQuantizeConfig(OutputQuantizeConfig):
        """Identity at inference (StochasticDepth): nothing to quantize."""

        def get_output_quantizers(self, layer):
            return []

    return {"OutputQuantizeConfig": OutputQuantizeConfig, "NoOpQuantizeConfig": NoOpQuantizeConfig}


def custom_objects() -> dict:
    """Every custom layer and config a QAT model needs to be rebuilt (the quantize scope)."""
    from spinenet_lite.models.layers import StochasticDepth

    return {"StochasticDepth": StochasticDepth, **quantize_configs()}


def split_separable(model):
    """The same model with every SeparableConv2D as DepthwiseConv2D + 1x1 Conv2D (shared like the original).

    TFLite runs a separable conv as those two ops with an int8 tensor between them; QAT must fake-quantize that
    tensor too, or the converter leaves both ops (and the batch norm after them) in float.
    """
    from spinenet_lite.keras import keras

    config = model.get_config()
    layers, split = [], []
    for entry in config["layers"]:
        if entry["class_name"] != "SeparableConv2D":
            layers.append(entry)
            continue
        c, name = entry["config"], entry["name"]
        split.append(name)
        dw = {"name": f"{name}_dw", "kernel_size": c["kernel_size"], "strides": c["strides"],
              "padding": c["padding"], "depth_multiplier": c["depth_multiplier"],
              "dilation_rate": c["dilation_rate"], "use_bias": False, "trainable": c.get("trainable", True)}
        pw = {"name": name, "filters": c["filters"], "kernel_size": (1, 1), "use_bias": c["use_bias"],
              "activation": c["activation"], "bias_initializer": c["bias_initializer"],
              "trainable": c.get("trainable", True)}
        layers.append({"class_name": "DepthwiseConv2D", "name": f"{name}_dw", "config": dw,
                       "inbound_nodes": entry["inbound_nodes"]})
        layers.append({"class_name": "Conv2D", "name": name, "config": pw,
                       "inbound_nodes": [[[f"{name}_dw", i, 0, {}]] for i in range(len(entry["inbound_nodes"]))]})
    if not split:
        return model
    config["layers"] = layers
    rebuilt = keras.Model.from_config(config, custom_objects=custom_objects())
    for layer in rebuilt.layers:
        if layer.name in split:
            kernel_dw, kernel_pw, *bias = model.get_layer(layer.name).get_weights()
            rebuilt.get_layer(f"{layer.name}_dw").set_weights([kernel_dw])
            layer.set_weights([kernel_pw, *bias])
        elif not layer.name.endswith("_dw") or layer.name[:-3] not in split:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return rebuilt


def per_call_outputs(model, names: set):
    """The same model with an Identity layer after every call of each layer in `names` (weights untouched).

    A layer called on several inputs (the head's convs, shared by P3-P7) has one output quantizer in tfmot, so
    every level would share one int8 range, and the calibration's running mean would follow whichever level
    was called last. TFLite gives each call's output tensor its own range; an Identity per call, quantized on
    its own, is that in the QAT graph (the converter drops the Identity and keeps its range).
    """
    from spinenet_lite.keras import keras

    config = model.get_config()
    layers = []

    def rename(ref):
        name, node, tensor, *rest = ref
        return [f"{name}_q{node}", 0, tensor, *rest] if name in names else ref

    for entry in config["layers"]:
        entry["inbound_nodes"] = [[rename(ref) for ref in node] for node in entry["inbound_nodes"]]
        layers.append(entry)
        if entry["name"] in names:
            for i in range(len(entry["inbound_nodes"])):
                layers.append({"class_name": "Identity", "name": f"{entry['name']}_q{i}",
                               "config": {"name": f"{entry['name']}_q{i}", "trainable": True},
                               "inbound_nodes": [[[entry["name"], i, 0, {}]]]})
    config["layers"] = layers
    outputs = config["output_layers"]  # a list of refs, or a dict of them for dict-output models
    config["output_layers"] = ({k: rename(v) for k, v in outputs.items()} if isinstance(outputs, dict)
                               else [rename(ref) for ref in outputs])
    rebuilt = keras.Model.from_config(config, custom_objects=custom_objects())
    for layer in model.layers:
        if layer.weights:
            rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    return rebuilt


def pairwise_adds(model):
    """The same model with every Add of three or more inputs as a chain of two-input Adds (the last keeps the name).

    One Add over three inputs lowers to two ADD ops with an unquantized sum between them, which the converter
    leaves in float, framed by DEQUANTIZE / QUANTIZE; each two-input Add gets its own fake-quant range. Done
    here, not in the float model, because tf_keras loads .h5 weights by layer order, which a new layer can move.
    """
    from spinenet_lite.keras import keras

    config = model.get_config()
    layers, changed = [], False
    for entry in config["layers"]:
        refs = entry["inbound_nodes"][0] if entry["inbound_nodes"] else []
        if entry["class_name"] != "Add" or len(entry["inbound_nodes"]) != 1 or len(refs) < 3:
            layers.append(entry)
            continue
        changed = True
        name, total = entry["name"], refs[0]
        for i, ref in enumerate(refs[1:], start=2):
            step = name if i == len(refs) else f"{name}_{i - 1}"
            layers.append({"class_name": "Add", "name": step, "config": {**entry["config"], "name": step},
                           "inbound_nodes": [[total, ref]]})
            total = [step, 0, 0, {}]
    if not changed:
        return model
    config["layers"] = layers
    rebuilt = keras.Model.from_config(config, custom_objects=custom_objects())
    for layer in model.layers:
        if layer.weights:
            rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    return rebuilt


def quantize_model(model):
    """A QAT copy of a float tf_keras detector, faithful to the int8 graph TFLite will run.

    Conv / depthwise conv feeding batch norm (or a ReLU): weights fake-quantized, no quantizer on the conv output,
    the batch norm's (ReLU's) output quantized (TFLite folds BN into the conv; tfmot's own Conv+BN transform skips shared
    head convs). Separable convs are split first (`split_separable`). A conv called on several levels whose
    output is quantized gets an Identity per call instead, each with its own range (`per_call_outputs`).
    Registry layers keep tfmot's defaults; Multiply / Rescaling quantize their output only; StochasticDepth is
    left alone.
    """
    from spinenet_lite.keras import keras

    tfmot = require_tfmot()
    qk = tfmot.quantization.keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import default_8bit_quantize_registry

    model = pairwise_adds(split_separable(model))
    conv_types = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)

    def quantized_downstream(layer):
        """True when every consumer is a batch norm, or a ReLU that TFLite fuses into the conv (its output is
        quantized; a quantizer on the conv output too would become a requantize op)."""
        consumers = [node.outbound_layer for node in layer._outbound_nodes]
        return bool(consumers) and all(isinstance(c, (keras.layers.BatchNormalization, keras.layers.ReLU))
                                       for c in consumers)

    def ranged_by_concat(layer):
        """True when every consumer is a Reshape into the outputs' concatenation (the head's predictors): TFLite
        quantizes them at the concatenation's range, one for all levels, so they need no range of their own (one
        would become a requantize op per level)."""
        consumers = [node.outbound_layer for node in layer._outbound_nodes]
        return bool(consumers) and all(isinstance(c, keras.layers.Reshape) and c._outbound_nodes and all(
            isinstance(n.outbound_layer, keras.layers.Concatenate) for n in c._outbound_nodes) for c in consumers)

    def copies_its_input(layer):
        """A concatenation of one tensor with itself (the upsample's copies): its int8 output is the input's."""
        return isinstance(layer, keras.layers.Concatenate) and len({id(t) for t in layer.input}) == 1

    shared = {layer.name for layer in model.layers
              if isinstance(layer, conv_types) and len(layer._inbound_nodes) > 1 and not quantized_downstream(layer)
              and not ranged_by_concat(layer)}
    if shared:
        model = per_call_outputs(model, shared)
    registry = default_8bit_quantize_registry.Default8BitQuantizeRegistry()
    configs = quantize_configs()
    # no fake-quant on these convs' own output: batch norm follows (TFLite folds it), or a per-call Identity
    unquantized_output = {layer.name for layer in model.layers if isinstance(layer, conv_types) and (
        quantized_downstream(layer) or layer.name in shared or ranged_by_concat(layer))}
    pass_through = {layer.name for layer in model.layers if copies_its_input(layer)}

    def annotate(layer):
        clone = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, keras.layers.InputLayer):
            return clone
        if layer.name in unquantized_output:
            config = registry.get_quantize_config(clone)
            config.activation_attrs = []  # no fake-quant between conv and its batch norm
            return qk.quantize_annotate_layer(clone, config)
        if layer.name in pass_through:
            return qk.quantize_annotate_layer(clone, configs["NoOpQuantizeConfig"]())
        if registry.supports(layer):
            return qk.quantize_annotate_layer(clone)
        if type(layer).__name__ == "StochasticDepth":
            return qk.quantize_annotate_layer(clone, configs["NoOpQuantizeConfig"]())
        return qk.quantize_annotate_layer(clone, configs["OutputQuantizeConfig"]())

    annotated = keras.models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())  # clone_model builds fresh weights in the same order
    with qk.quantize_scope(custom_objects()):
        quantized = qk.quantize_apply(annotated)
    set_input_range(quantized)
    return quantized


def set_input_range(quantized, low: float = 0.0, high: float = 255.0) -> None:
    """Give the input quantizer the exact 0..255 pixel range.

    tfmot starts every range at [-6, 6] and moves it by a slow moving average during training; on 0..255
    pixels the input is clipped to [-6, 6] and the QAT model's outputs are unrelated to the float model's
    (measured: cosine -0.03 before training). This, with un-calibrated activation ranges, is what made a
    2-step QAT model disagree with its int8 export.
    """
    low_var, high_var = input_range_variables(quantized)
    low_var.assign(low)
    high_var.assign(high)


def input_range_variables(quantized) -> tuple:
    """The (min, max) variables of the model's input quantizer.

    Found by layer type, not by name: tf_keras numbers the second quantized model of a process
    `quantize_layer_1/quantize_layer_1_min`, so a name match would silently miss it.
    """
    # tfmot does not export the QuantizeLayer class; its type name is stable API-wise (it is in saved configs).
    layers = [layer for layer in quantized.layers if type(layer).__name__ == "QuantizeLayer"]
    if len(layers) != 1:
        raise SpineNetLiteError(f"QAT model has {len(layers)} input quantizers, expected 1")
    by_suffix = {v.name.rsplit("/", 1)[-1].split(":")[0].rsplit("_", 1)[-1]: v for v in layers[0].weights}
    return by_suffix["min"], by_suffix["max"]


def calibrate_ranges(quantized, batches) -> None:
    """Set every activation range from real images before QAT (BN statistics stay frozen).

    tfmot's MovingAverageQuantizer starts each range at [-6, 6] and moves it toward the batch min / max by an
    EMA with decay 0.999: 20 calibration batches move it 2% of the way, and 25 QAT steps barely more, so wide
    activations stayed clipped at +-6. Here the k-th batch (from 0) enters with decay k / (k+1),
    so each range ends as the mean of the per-batch min / max, as a calibration should; QAT's EMA then takes
    over from there. The input range is set back to exactly 0..255 afterwards. Measured on BCCD 49xs (QAT at
    learning rate 0, 1 epoch): 51.1 -> 51.5 AP, against 55.2 float; the rest of that gap was the shared head
    convs' single output range (`per_call_outputs`: 54.5).
    """
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    from spinenet_lite.keras import keras

    norms = [layer for layer in quantized.submodules if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.trainable for layer in norms]
    for layer in norms:
        layer.trainable = False  # tf_keras runs a frozen BN in inference mode even when training=True
    original = quant_ops.MovingAvgQuantize  # quantizers.py calls it through the module: patchable per call
    decay = {"value": 0.0}

    def running_mean(*args, **kwargs):
        kwargs["ema_decay"] = decay["value"]
        return original(*args, **kwargs)

    quant_ops.MovingAvgQuantize = running_mean
    try:
        for k, batch in enumerate(batches):
            decay["value"] = k / (k + 1)
            quantized(batch, training=True)  # eager: every quantizer call goes through running_mean
    finally:
        quant_ops.MovingAvgQuantize = original
        for layer, flag in zip(norms, saved):
            layer.trainable = flag
    set_input_range(quantized)
