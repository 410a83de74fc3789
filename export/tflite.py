"""TFLite export: fp32, fp16 and full-integer int8 (uint8 image input), ending in TFLite_Detection_PostProcess.

The graph is traced from a tf_keras model into a tf.function (never a Keras-3 concrete function, which converts
into a model that outputs zeros). The post-processing op comes from a tf.function whose `experimental_implements`
names `TFLite_Detection_PostProcess`: the converter replaces the whole function by the fused op, so the outputs
are the standard four detection tensors (boxes, classes, scores, number of detections) that MediaPipe Tasks and
the TFLite Task Library expect. `raw=True` keeps the raw (box_encodings, class_logits) tensors instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.export.metadata import DetectorMetadata, attach_metadata, pack_model
from spinenet_lite.runtimes.tflite import check_int8_ranges

PRECISIONS = ("fp32", "fp16", "int8")
DETECTION_OUTPUTS = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")
RAW_OUTPUTS = ("box_encodings", "class_logits")


@dataclass(frozen=True)
class PostProcessOptions:
    """Attributes of the TFLite_Detection_PostProcess op (scale factors are 1.0 by our box coding)."""

    max_detections: int = 100
    score_threshold: float = 0.05
    iou_threshold: float = 0.5
    # Per-class ("regular") NMS, as the evaluator: the fast, class-agnostic one cost the quickstart model 1.5 AP
    # in fp32 (parity gate 66.60 -> 65.09); with regular NMS fp32 TFLite matches Keras to +0.00 AP.
    use_regular_nms: bool = True
    detections_per_class: int = 100


def implements_signature(num_classes: int, options: PostProcessOptions) -> str:
    """The `experimental_implements` string that makes the converter emit TFLite_Detection_PostProcess."""
    attrs = {
        "max_detections": ("i", options.max_detections),
        "max_classes_per_detection": ("i", 1),
        "detections_per_class": ("i", options.detections_per_class),
        "use_regular_nms": ("b", "true" if options.use_regular_nms else "false"),
        "nms_score_threshold": ("f", float(options.score_threshold)),
        "nms_iou_threshold": ("f", float(options.iou_threshold)),
        "y_scale": ("f", 1.0),
        "x_scale": ("f", 1.0),
        "h_scale": ("f", 1.0),
        "w_scale": ("f", 1.0),
        "num_classes": ("i", int(num_classes)),
    }
    body = " ".join(f"attr {{ key: '{key}' value {{ {kind}: {value} }} }}" for key, (kind, value) in attrs.items())
    return f"name: 'TFLite_Detection_PostProcess' {body}"


def frozen_raw_function(model):
    """The tf_keras model traced at batch 1 and frozen: variables become constants, layer functions are inlined.

    Why: handing the Keras model to the converter as its trackable object makes it write a full Keras SavedModel
    (tracing every layer's call and the gradient of every swish) and read it back: about 7 minutes for the real
    spinenet49xs at 64 px on a 2-core CPU. A frozen graph converts in seconds (see export/README.md).
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from spinenet_lite.keras import tf

    size = int(model.input_shape[1])

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="images")])
    def raw(images):
        out = model(images, training=False)
        return out["box_encodings"], out["class_logits"]
    return convert_variables_to_constants_v2(raw.get_concrete_function())


def serving_function(model, anchors: np.ndarray, raw: bool = False, options: PostProcessOptions = PostProcessOptions()):
    """A batch-1 tf.function over the frozen model: raw outputs, or the fused detection post-process."""
    from spinenet_lite.keras import tf

    size = int(model.input_shape[1])
    num_classes = int(model.output_shape["class_logits"][-1])
    anchors = np.asarray(anchors, np.float32)
    spec = tf.TensorSpec([1, size, size, 3], tf.float32, name="images")
    frozen = frozen_raw_function(model)

    if raw:
        @tf.function(input_signature=[spec])
        def serve_raw(images):
            box_encodings, class_logits = frozen(images)
            return (tf.identity(box_encodings, name="box_encodings"),
                    tf.identity(class_logits, name="class_logits"))
        return serve_raw

    @tf.function(experimental_implements=implements_signature(num_classes, options))
    def detection_postprocess(box_encodings, class_scores, anchor_boxes):
        # Placeholder body: the converter replaces this whole function by the fused TFLite op.
        del box_encodings, class_scores, anchor_boxes
        return (tf.constant(0.0, name="boxes"), tf.constant(0.0, name="classes"),
                tf.constant(0.0, name="scores"), tf.constant(0.0, name="num_detections"))

    @tf.function(input_signature=[spec])
    def serve(images):
        box_encodings, class_logits = frozen(images)
        return detection_postprocess(box_encodings, tf.sigmoid(class_logits), tf.constant(anchors))
    return serve


def saved_model_converter(fn, folder: str):
    """A TFLiteConverter over `fn` written as a variable-free SavedModel.

    The SavedModel route is the one that keeps the `experimental_implements` function for the converter to fuse
    into TFLite_Detection_PostProcess (the frozen-graph route inlines it away), and it gives the flatbuffer a
    signature whose output keys fix the output order.
    """
    from spinenet_lite.keras import tf

    options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
    tf.saved_model.save(tf.Module(), folder, signatures={"serving_default": fn.get_concrete_function()},
                        options=options)
    return tf.lite.TFLiteConverter.from_saved_model(folder)


def configure_converter(converter, precision: str, calibration: Callable[[], Iterable[np.ndarray]] | None = None,
                        input_type: str = "uint8", output_type: str = "float32") -> None:
    """The TFLiteConverter settings of a precision: fp32 as is, fp16 weights, or int8 with integer input
    `input_type` and `output_type` outputs, calibrated on `calibration()` batches (None: a QAT model's own ranges)."""
    from spinenet_lite.keras import tf

    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if calibration is not None:
            converter.representative_dataset = lambda: ([np.asarray(b, np.float32)] for b in calibration())
            # INT8-only ops: without a representative dataset TF 2.21 refuses them before it looks at the
            # graph, so a QAT model (full integer through its fake-quant ranges) keeps the default op set.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.as_dtype(input_type)
        converter.inference_output_type = tf.as_dtype(output_type)


def convert(model, anchors: np.ndarray, precision: str = "fp32", raw: bool = False,
            calibration: Callable[[], Iterable[np.ndarray]] | None = None,
            options: PostProcessOptions = PostProcessOptions()) -> bytes:
    """Convert a tf_keras detector to a TFLite flatbuffer (outputs in a fixed, documented order).

    int8 is full-integer with uint8 image input (scale 1, zero point 0: exact for 0..255 pixels). A QAT model
    carries its own ranges; a float model needs `calibration`, a callable yielding float32 [1, S, S, 3] batches.
    """
    import tempfile
    from contextlib import nullcontext

    from spinenet_lite.export.dead_squeeze import dead_squeezes_revived
    from spinenet_lite.quiet import quiet_stderr

    if precision not in PRECISIONS:
        raise SpineNetLiteError(f"tflite: unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "int8" and calibration is None and not is_quantization_aware(model):
        raise SpineNetLiteError("tflite --int8: a float model needs calibration images (the recipe's data); "
                                "pass calibration= or export a QAT checkpoint")
    revive = dead_squeezes_revived(model, calibration) if precision == "int8" and calibration else nullcontext()
    with revive, tempfile.TemporaryDirectory(prefix="spinenet-lite-tflite-") as folder:
        fn = serving_function(model, anchors, raw=raw, options=options)  # frozen: takes the weights as they are now
        converter = saved_model_converter(fn, folder)
        converter.allow_custom_ops = not raw
        configure_converter(converter, precision, calibration)
        try:
            with quiet_stderr():  # the quantizer prints its settings; real converter errors still show
                flatbuffer = converter.convert()
        except Exception as err:  # the converter's errors are long MLIR dumps; keep the first line
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise SpineNetLiteError(f"tflite {precision}: conversion failed ({first})") from err
    if precision == "int8":
        check_int8_ranges(flatbuffer, f"tflite {precision}")
    names = RAW_OUTPUTS if raw else DETECTION_OUTPUTS
    return order_outputs(flatbuffer, names)


def write(target, path: Path, model, anchors: np.ndarray, class_names, recipe, calibration=None) -> None:
    """One artifact of this format at `path` (the signature every format module shares; see formats.py).

    A detection model carries TFLite metadata (labels, input normalisation) for MediaPipe and the Task Library.
    """
    cfg = recipe.export
    options = PostProcessOptions(cfg.max_detections, cfg.score_threshold, cfg.iou_threshold)
    data = convert(model, anchors, target.precision, raw=target.raw,
                   calibration=calibration if target.precision == "int8" else None, options=options)
    if not target.raw:
        meta = DetectorMetadata(recipe.model.name, tuple(class_names), int(recipe.model.input_size))
        data = attach_metadata(data, meta)
    path.write_bytes(data)


def is_quantization_aware(model) -> bool:
    """True when the model holds tfmot quantize wrappers (QAT), so it carries its own quantization ranges."""
    return any(type(layer).__name__ in ("QuantizeWrapper", "QuantizeWrapperV2", "QuantizeLayer")
               for layer in model.submodules if hasattr(layer, "name"))


def order_outputs(flatbuffer: bytes, names: tuple[str, ...]) -> bytes:
    """Put the subgraph outputs in signature order (output_0, output_1, ...) and give them stable names.

    The converter lists the outputs of a tuple-returning function in arbitrary order; MediaPipe and the Task
    Library read them by position (boxes, classes, scores, count), so the order is fixed here.
    """
    from ai_edge_litert import schema_py_generated as schema
    import flatbuffers

    model = schema.ModelT.InitFromPackedBuf(flatbuffer, 0)
    signature = model.signatureDefs[0]
    by_key = {(o.name.decode() if isinstance(o.name, bytes) else o.name): o.tensorIndex for o in signature.outputs}
    order = [by_key[f"output_{i}"] for i in range(len(names))]
    subgraph = model.subgraphs[0]
    subgraph.outputs = np.asarray(order, np.int32)
    for index, name in zip(order, names):
        subgraph.tensors[index].name = name.encode()
    for out in signature.outputs:
        key = out.name.decode() if isinstance(out.name, bytes) else out.name
        out.name = names[int(key.split("_")[-1])].encode()
    return pack_model(model, schema, flatbuffers)


def tensor_names(flatbuffer: bytes) -> tuple[list[str], list[str]]:
    """Input and output tensor names in subgraph order (for checks and tests)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(flatbuffer, 0)
    subgraph = model.Subgraphs(0)
    inputs = [subgraph.Tensors(subgraph.Inputs(i)).Name().decode() for i in range(subgraph.InputsLength())]
    outputs = [subgraph.Tensors(subgraph.Outputs(i)).Name().decode() for i in range(subgraph.OutputsLength())]
    return inputs, outputs
