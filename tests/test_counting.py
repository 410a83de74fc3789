"""The param/MAC counter on hand-computed layers, then the zoo's counts against the paper and Model Garden."""
import pytest

from spinenet_lite.counting import count_macs, count_params
from spinenet_lite.keras import keras
from spinenet_lite.models.registry import create_model, list_models, model_info
from spinenet_lite.models.specs import CHANNEL_ROUNDING, FULL_BLOCKS, MOBILE_BLOCKS, scale_channels, unused_features


def _model(inputs, outputs):
    return keras.Model(inputs, outputs)


def test_conv2d_hand_count():
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(16, 3, strides=2, padding="same")(x)  # out 4x4x16, 27 MACs per output
    m = _model(x, y)
    assert count_macs(m) == 4 * 4 * 16 * 3 * 3 * 3
    assert count_params(m) == 3 * 3 * 3 * 16 + 16


def test_depthwise_and_separable_hand_count():
    x = keras.Input((8, 8, 4))
    d = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    s = keras.layers.SeparableConv2D(6, 3, padding="same")(d)
    m = _model(x, s)
    depthwise = 8 * 8 * 4 * 9
    separable = 8 * 8 * 4 * 9 + 8 * 8 * 4 * 6
    assert count_macs(m) == depthwise + separable
    assert count_params(m) == 4 * 9 + (4 * 9 + 4 * 6 + 6)


def test_dense_hand_count_on_2d_and_3d_inputs():
    x = keras.Input((10,))
    m = _model(x, keras.layers.Dense(5)(x))
    assert count_macs(m) == 50 and count_params(m) == 55
    x3 = keras.Input((3, 10))
    m3 = _model(x3, keras.layers.Dense(5)(x3))
    assert count_macs(m3) == 150


def test_batch_norm_counts_only_trainable_and_no_macs():
    x = keras.Input((4, 4, 7))
    m = _model(x, keras.layers.BatchNormalization()(x))
    assert count_params(m) == 2 * 7  # gamma, beta; moving mean/variance excluded
    assert count_macs(m) == 0


def test_shared_layer_counts_every_call_but_weights_once():
    a, b = keras.Input((8, 8, 2)), keras.Input((4, 4, 2))
    conv = keras.layers.Conv2D(3, 1, use_bias=False)
    m = keras.Model([a, b], [conv(a), conv(b)])
    assert count_macs(m) == (64 + 16) * 3 * 2
    assert count_params(m) == 6


def test_nested_model_is_counted():
    inner_in = keras.Input((8, 8, 2))
    inner = keras.Model(inner_in, keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inner_in))
    x = keras.Input((8, 8, 2))
    m = keras.Model(x, keras.layers.Conv2D(1, 1, use_bias=False)(inner(x)))
    assert count_macs(m) == 8 * 8 * 4 * 18 + 8 * 8 * 4


def test_unused_feature_rule():
    # Section 3.3: block 11 (feature 12, level 5) feeds nothing and joins output block 14 (level 5).
    assert unused_features(MOBILE_BLOCKS) == (12,)
    assert MOBILE_BLOCKS[12 - 2].level == 5 and MOBILE_BLOCKS[14 - 1].level == 5
    assert unused_features(FULL_BLOCKS) == (11,)


def test_channel_rounding_readings():
    assert [scale_channels(c, 0.65) for c in (8, 16, 24, 40, 80, 112)] == [5, 10, 15, 26, 52, 72]
    assert [scale_channels(c, 0.65, "round4") for c in (8, 16, 24, 40, 80, 112)] == [4, 12, 16, 28, 52, 72]
    assert [scale_channels(c, 0.6, "make_divisible8") for c in (8, 16, 24, 40, 80, 112)] == [8, 16, 16, 24, 48, 64]
    assert all(scale_channels(c, 1.0, r) == c for c in (8, 16, 24, 40, 80, 112) for r in CHANNEL_ROUNDING)


def _counts(name, num_classes, input_size, **overrides):
    keras.backend.clear_session()
    model = create_model(name, num_classes=num_classes, input_size=input_size, **overrides)
    return count_params(model) / 1e6, count_macs(model) / 1e9


@pytest.mark.parametrize("name", [n if n == "spinenet49xxs" else pytest.param(n, marks=pytest.mark.slow)
                                  for n in list_models("mobile")])
def test_mobile_counts_match_paper_table9_within_5pct(name):
    # The paper's layer order (upsample, then the 1x1 conv): the architecture its counts describe.
    paper = model_info(name).paper
    params, macs = _counts(name, paper["num_classes"], paper["input"], resample_order="paper")
    assert params == pytest.approx(paper["params_m"], rel=0.05), params
    assert macs == pytest.approx(paper["macs_b"], rel=0.05), macs


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in list_models() if model_info(n).reference])
def test_counts_match_model_garden_within_2pct(name):
    ref = model_info(name).reference
    order = {"resample_order": "paper"} if model_info(name).family == "mobile" else {}
    params, macs = _counts(name, ref["num_classes"], ref["input"], **order)
    assert params == pytest.approx(ref["params_m"], rel=0.02), params
    assert macs == pytest.approx(ref["macs_b"], rel=0.02), macs


@pytest.mark.slow
def test_truncated_49xs_is_the_model_garden_49s():
    # Model Garden "49S" (scale 0.65, head 40, truncation) at 384 px, 91 classes: 1.031M params, 0.496B MACs.
    keras.backend.clear_session()
    model = create_model("spinenet49xs", num_classes=91, channel_rounding="truncate", resample_order="paper")
    assert count_params(model) / 1e6 == pytest.approx(1.031, rel=0.02)
    assert count_macs(model) / 1e9 == pytest.approx(0.496, rel=0.02)


@pytest.mark.parametrize("name", ["spinenet49xxs", "spinenet49"])
def test_match_first_resampling_saves_macs_not_params(name):
    # The default runs each upsampling resample's 1x1 conv before the upsample (tests/test_models.py checks it
    # computes the same function); same weights, fewer multiply-adds than the paper's order.
    paper_order = _counts(name, 80, 256, resample_order="paper")
    executed = _counts(name, 80, 256)
    assert executed[0] == paper_order[0]
    assert 0.95 * paper_order[1] < executed[1] < 0.99 * paper_order[1], (executed, paper_order)
