"""The model zoo, parametrized over the registry at tiny input sizes: shapes, gradients, config round trip."""
import numpy as np
import pytest

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.keras import keras, tf
from spinenet_lite.models.registry import create_backbone, create_model, list_models, model_info

SIZE = 64
NUM_CLASSES = 3
MOBILE = list_models("mobile")
FULL = list_models("full")
# the fast set builds every mobile model and the smallest full one; the larger full models are the slow matrix
ALL = [pytest.param(n, marks=pytest.mark.slow) if n in FULL[1:] else n for n in list_models()]
_CACHE = {}


def _model(name):
    if name not in _CACHE:
        _CACHE.clear()  # keep one model alive at a time (full-size ones are large)
        keras.backend.clear_session()
        _CACHE[name] = create_model(name, num_classes=NUM_CLASSES, input_size=SIZE)
    return _CACHE[name]


@pytest.fixture(scope="module", params=ALL)
def zoo_model(request):
    """Each registry model, built once for all the matrix tests that take it (pytest groups the tests by model)."""
    return _model(request.param)


def _images(batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, SIZE, SIZE, 3)).astype("float32")


def test_registry_lists_both_families():
    assert MOBILE == ["spinenet49xxs", "spinenet49xs", "spinenet49s", "spinenet49"]
    assert all(n.endswith("-full") for n in FULL) and len(FULL) == 5
    assert model_info("spinenet49xs").input_size == 384 and model_info("spinenet143-full").input_size == 1280


def test_forward_shapes_match_anchor_count(zoo_model):
    from spinenet_lite.anchors import generate_anchors

    model = zoo_model
    out = model(_images(), training=False)
    assert set(out) == {"box_encodings", "class_logits"}
    n = generate_anchors(SIZE).shape[0]
    assert n == sum(9 * int(np.ceil(SIZE / 2**lvl)) ** 2 for lvl in range(3, 8))
    assert out["box_encodings"].shape == (2, n, 4)
    assert out["class_logits"].shape == (2, n, NUM_CLASSES)
    assert np.isfinite(out["class_logits"].numpy()).all()
    # the class bias starts at the focal-loss prior: logits near -log(99)
    assert abs(float(np.median(out["class_logits"].numpy())) + np.log(99.0)) < 2.0


def test_gradients_reach_every_trainable_weight(zoo_model):
    model = zoo_model
    x = tf.constant(_images(batch=1))
    with tf.GradientTape() as tape:
        out = model(x, training=False)
        loss = tf.reduce_mean(tf.square(out["box_encodings"])) + tf.reduce_mean(tf.sigmoid(out["class_logits"]))
    grads = tape.gradient(loss, model.trainable_weights)
    missing = [w.name for w, g in zip(model.trainable_weights, grads) if g is None]
    zero = [w.name for w, g in zip(model.trainable_weights, grads) if g is not None and not np.any(g.numpy())]
    assert not missing, missing[:5]
    assert not zero, zero[:5]
    model(x, training=True)  # the stochastic-depth path runs too


def test_get_config_round_trip(zoo_model):
    model = zoo_model
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = _images(batch=1, seed=1)
    a, b = model(x, training=False), clone(x, training=False)
    for key in a:
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MOBILE[:1] + [pytest.param(FULL[1], marks=pytest.mark.slow)])
def test_backbone_outputs_p3_to_p7(name):
    keras.backend.clear_session()
    backbone = create_backbone(name, input_size=128)
    out = backbone(np.zeros((1, 128, 128, 3), "float32"))
    assert sorted(out) == ["P3", "P4", "P5", "P6", "P7"]
    for level in range(3, 8):
        assert out[f"P{level}"].shape[1:3] == (128 // 2**level, 128 // 2**level)


def test_input_is_0_255_and_normalised_inside():
    model = _model(MOBILE[0])
    first = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)][0]
    assert isinstance(first, keras.layers.Rescaling)
    assert first.scale == pytest.approx(1 / 127.5) and first.offset == pytest.approx(-1.0)


def test_no_lambda_layers_and_se_uses_stock_layers():
    model = _model(MOBILE[0])
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "Lambda" not in kinds and "TFOpLambda" not in kinds
    assert {"GlobalAveragePooling2D", "Multiply", "Concatenate", "Reshape", "SeparableConv2D"} <= kinds


@pytest.mark.parametrize("activation", ["relu", "relu6", "hard_swish"])
def test_activation_override(activation):
    keras.backend.clear_session()
    model = create_model("spinenet49xxs", num_classes=2, input_size=64, activation=activation)
    names = " ".join(layer.name for layer in model.layers)
    assert "swish" not in names.replace("hswish", "") or activation == "hard_swish"
    assert np.isfinite(model(_images(batch=1))["box_encodings"].numpy()).all()


def test_early_activation_replaces_only_the_expanded_mbconv_activations_up_to_level_2():
    """relu6 on the expanded tensors of the MBConv blocks of levels 1-2 (expand, depthwise), swish everywhere else
    (stem conv, squeeze-excite, resampling, merges, levels 3-7, head); same weights and multiply-adds."""
    from spinenet_lite.counting import count_macs, count_params
    from spinenet_lite.models.specs import MOBILE_BLOCKS

    keras.backend.clear_session()
    model = create_model("spinenet49xxs", num_classes=2, input_size=64, early_activation="relu6")
    early = {"stem_block1", "stem_block2"} | {f"block{i}" for i, b in enumerate(MOBILE_BLOCKS, 1) if b.level <= 2}
    relu6 = {layer.name for layer in model.layers if layer.name.endswith("_relu6")}
    assert relu6 == {f"{block}_{part}_relu6" for block in early for part in ("expand", "dw")}
    names = {layer.name for layer in model.layers}
    assert {"stem_swish", "stem_block1_se_swish", "block1_merge_swish", "block3_expand_swish", "class_tower_conv0_P3_swish"} <= names
    paper = create_model("spinenet49xxs", num_classes=2, input_size=64)  # the default: swish everywhere
    assert not any(layer.name.endswith("_relu6") for layer in paper.layers)
    assert (count_params(model), count_macs(model)) == (count_params(paper), count_macs(paper))


def test_stochastic_depth_zero_removes_drop_layers():
    keras.backend.clear_session()
    with_drop = create_model("spinenet49xxs", num_classes=2, input_size=64)
    without = create_model("spinenet49xxs", num_classes=2, input_size=64, stochastic_depth=0)
    kinds = lambda m: [type(layer).__name__ for layer in m.layers]  # noqa: E731
    assert "StochasticDepth" in kinds(with_drop) and "StochasticDepth" not in kinds(without)


@pytest.mark.parametrize("bad", [
    dict(name="spinenet49x"), dict(name="spinenet49xs", activation="gelu"), dict(name="spinenet49xs", input_size=100),
    dict(name="spinenet49xs", early_activation="gelu"), dict(name="spinenet49-full", early_activation="relu6"),
    dict(name="spinenet49xs", early_max_level="two"), dict(name="spinenet49xs", early_max_level=9),
    dict(name="spinenet49xs", head_filter=3), dict(name="spinenet49xs", num_classes=0),
])
def test_bad_arguments_raise_project_error(bad):
    kwargs = dict(bad)
    name = kwargs.pop("name")
    with pytest.raises(SpineNetLiteError):
        create_model(name, **kwargs)


def test_unknown_name_suggests():
    with pytest.raises(SpineNetLiteError, match='did you mean "spinenet49xs"'):
        create_model("spinenet49xss")


@pytest.mark.parametrize("factor", [2, 4])
def test_upsample_is_exactly_nearest_neighbour(factor):
    from spinenet_lite.models.layers import upsample_nearest

    x = keras.Input((3, 5, 7))
    model = keras.Model(x, upsample_nearest(x, factor, "t"))
    data = np.random.default_rng(0).normal(size=(2, 3, 5, 7)).astype("float32")
    expected = keras.layers.UpSampling2D(factor, interpolation="nearest")(data).numpy()
    np.testing.assert_array_equal(model(data).numpy(), expected)


def test_tflite_graph_runs_whole_in_one_xnnpack_partition(tmp_path):
    """The exported graph (fixed batch 1, raw outputs) has no RESIZE_NEAREST_NEIGHBOR, which the interpreter runs
    outside XNNPACK: the int8 graph is one partition and the float graph matches Keras. The graph's MAC and
    parameter counts (the benchmark's columns for a .tflite file) agree with the Keras model's."""
    from ai_edge_litert.interpreter import Interpreter

    from spinenet_lite.benchmarks.graph_ops import summarize
    from spinenet_lite.benchmarks.runtimes import convert, representative_images
    from spinenet_lite.counting import count_macs, count_params

    keras.backend.clear_session()
    model = create_model("spinenet49xxs", num_classes=2, input_size=SIZE)

    path = convert(model, "tflite-fp32", SIZE, tmp_path, "m", [])
    graph = summarize(path)  # the benchmark's counts for a file: the same MACs, params with batch norm folded
    assert graph.total_macs == count_macs(model)
    assert 0.95 * count_params(model) < graph.params < count_params(model)
    interp = Interpreter(model_path=str(path))
    ops = [op["op_name"] for op in interp._get_ops_details()]
    assert not {"RESIZE_NEAREST_NEIGHBOR", "TILE", "BROADCAST_TO", "SHAPE"} & set(ops)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], _images(batch=1))
    interp.invoke()
    outs = {tuple(d["shape"]): interp.get_tensor(d["index"]) for d in interp.get_output_details()}
    expected = model(_images(batch=1))
    got = outs[tuple(expected["class_logits"].shape)]
    np.testing.assert_allclose(got, expected["class_logits"].numpy(), atol=1e-3)

    calibration = representative_images(SIZE, None, steps=2)
    assert summarize(convert(model, "tflite-int8", SIZE, tmp_path, "m", calibration)).partitions == 1


def test_match_first_resampling_is_the_papers_function():
    """The default runs an upsampling resample's 1x1 conv + BN before the upsample; with the same weights (moved by
    layer name) it gives the paper order's outputs."""
    keras.backend.clear_session()
    ours = create_model("spinenet49xxs", num_classes=NUM_CLASSES, input_size=SIZE, stochastic_depth=0.0)
    paper = create_model("spinenet49xxs", num_classes=NUM_CLASSES, input_size=SIZE, stochastic_depth=0.0,
                         resample_order="paper")
    rng = np.random.default_rng(1)
    for layer in ours.layers:  # non-trivial batch-norm statistics, so the check covers BN too
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([w + rng.uniform(0.1, 0.5, w.shape).astype("float32") for w in layer.get_weights()])
    weighted = [layer for layer in ours.layers if layer.weights]
    assert any("_match" in layer.name for layer in weighted)
    for layer in weighted:
        paper.get_layer(layer.name).set_weights(layer.get_weights())
    images = _images(batch=1)
    for key, value in ours(images, training=False).items():
        np.testing.assert_allclose(value.numpy(), paper(images, training=False)[key].numpy(), rtol=1e-4, atol=1e-4)
