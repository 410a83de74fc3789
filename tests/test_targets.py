"""Target assignment on hand-made anchors and boxes, and inside tf.data with a dynamic number of boxes."""

import numpy as np

from spinenet_lite.anchors import generate_anchors
from spinenet_lite.box_coder import decode_boxes
from spinenet_lite.keras import tf
from spinenet_lite.targets import assign_targets, pairwise_iou

# Four hand-made anchors (yc, xc, h, w), normalised.
ANCHORS = np.array([
    [0.25, 0.25, 0.5, 0.5],   # top-left quadrant
    [0.25, 0.75, 0.5, 0.5],   # top-right quadrant
    [0.75, 0.25, 0.5, 0.5],   # bottom-left quadrant
    [0.75, 0.75, 0.5, 0.5],   # bottom-right quadrant
], np.float32)


def test_pairwise_iou_hand_computed():
    a = np.array([[0.0, 0.0, 0.5, 0.5]], np.float32)
    b = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.25, 0.5, 0.75], [0.6, 0.6, 0.9, 0.9], [0, 0, 0, 0]], np.float32)
    np.testing.assert_allclose(pairwise_iou(a, b).numpy(), [[1.0, 1.0 / 3.0, 0.0, 0.0]], atol=1e-6)


def test_positive_background_and_encoding():
    boxes = np.array([[0.0, 0.0, 0.5, 0.5],        # exactly anchor 0
                      [0.5, 0.55, 1.0, 1.0]], np.float32)  # IoU 0.9 with anchor 3
    labels = np.array([2, 0], np.int32)
    cls, box = assign_targets(boxes, labels, ANCHORS)
    np.testing.assert_array_equal(cls.numpy(), [2, -1, -1, 0])
    np.testing.assert_allclose(box.numpy()[0], 0.0, atol=1e-6)  # identical box encodes to zeros
    np.testing.assert_allclose(box.numpy()[1:3], 0.0)  # background rows are zeros
    np.testing.assert_allclose(decode_boxes(box[3:], ANCHORS[3:]).numpy(), boxes[1:], atol=1e-6)


def test_force_match_small_box():
    # A tiny box inside anchor 1: IoU 0.04 < 0.5, still matched to its best anchor.
    boxes = np.array([[0.2, 0.7, 0.3, 0.8]], np.float32)
    cls, box = assign_targets(boxes, np.array([5]), ANCHORS)
    np.testing.assert_array_equal(cls.numpy(), [-1, 5, -1, -1])
    np.testing.assert_allclose(decode_boxes(box[1:2], ANCHORS[1:2]).numpy(), boxes, atol=1e-6)


def test_force_match_conflict_keeps_highest_iou():
    # Both boxes have anchor 0 as their best anchor; the higher IoU wins, deterministically.
    boxes = np.array([[0.0, 0.0, 0.1, 0.1], [0.0, 0.0, 0.2, 0.2]], np.float32)
    cls, _ = assign_targets(boxes, np.array([1, 3]), ANCHORS)
    np.testing.assert_array_equal(cls.numpy(), [3, -1, -1, -1])


def test_ignore_band_and_threshold():
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 0.85]], np.float32)  # IoU with anchor 3 = 0.7
    cls, _ = assign_targets(boxes, np.array([0, 1]), ANCHORS, iou_threshold=0.8, unmatched_threshold=0.4)
    # anchor 3 is force-matched (box 1's best) even though 0.7 < 0.8
    np.testing.assert_array_equal(cls.numpy(), [0, -1, -1, 1])


def test_ignore_band_without_force_match():
    anchors = np.concatenate([ANCHORS, [[0.5, 0.5, 0.5, 0.5]]]).astype(np.float32)
    boxes = np.array([[0.0, 0.0, 0.5, 0.5]], np.float32)  # IoU 1 with anchor 0, 1/7 with the centre anchor
    cls, _ = assign_targets(boxes, np.array([4]), anchors, iou_threshold=0.5, unmatched_threshold=0.1)
    np.testing.assert_array_equal(cls.numpy(), [4, -1, -1, -1, -2])


def test_zero_and_padded_boxes():
    cls, box = assign_targets(np.zeros((0, 4), np.float32), np.zeros((0,), np.int32), ANCHORS)
    np.testing.assert_array_equal(cls.numpy(), [-1, -1, -1, -1])
    np.testing.assert_array_equal(box.numpy(), np.zeros((4, 4)))
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]], np.float32)
    cls, _ = assign_targets(boxes, np.array([1, -1]), ANCHORS)  # second row is padding
    np.testing.assert_array_equal(cls.numpy(), [1, -1, -1, -1])


def test_in_tf_data_with_dynamic_box_count():
    anchors = generate_anchors(64)
    samples = [np.zeros((0, 4), np.float32),
               np.array([[0.1, 0.1, 0.6, 0.5]], np.float32),
               np.array([[0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 0.9, 0.95], [0, 0, 0, 0]], np.float32)]
    labels = [np.zeros((0,), np.int64), np.array([1]), np.array([0, 2, -1])]

    def gen():
        yield from zip(samples, labels)

    ds = tf.data.Dataset.from_generator(gen, output_signature=(
        tf.TensorSpec([None, 4], tf.float32), tf.TensorSpec([None], tf.int64)))
    ds = ds.map(lambda b, l: assign_targets(b, l, anchors))
    out = list(ds.as_numpy_iterator())
    assert len(out) == 3
    assert out[0][0].shape == (anchors.shape[0],) and out[0][0].dtype == np.int32
    assert (out[0][0] == -1).all()
    assert set(np.unique(out[1][0])) <= {-1, -2, 1} and (out[1][0] == 1).sum() >= 1
    assert (out[2][0] == 0).sum() >= 1 and (out[2][0] == 2).sum() >= 1
    pos = out[2][0] >= 0
    assert np.all(out[2][1][~pos] == 0) and np.any(out[2][1][pos] != 0)


def test_every_real_bccd_box_trains_an_anchor(bccd_root):
    """On the real BCCD val split at 256 px every ground-truth box gets at least one positive anchor."""
    from spinenet_lite.data.voc import read_voc

    ds = read_voc(bccd_root, "val")
    anchors = generate_anchors(256)
    fn = tf.function(lambda b, l: assign_targets(b, l, anchors), input_signature=[
        tf.TensorSpec([None, 4], tf.float32), tf.TensorSpec([None], tf.int32)])
    boxes_seen = 0
    for sample in ds.samples[:20]:
        xyxy = np.asarray(sample.boxes, np.float32) / max(sample.width, sample.height)  # letterboxed, normalised
        yxyx = xyxy[:, [1, 0, 3, 2]]
        cls, box = fn(yxyx, np.asarray(sample.labels, np.int32))
        cls = cls.numpy()
        positives = cls >= 0
        assert set(np.unique(cls[positives])) <= set(np.asarray(sample.labels).tolist())
        decoded = decode_boxes(box.numpy()[positives], anchors[positives]).numpy()
        iou = pairwise_iou(decoded, yxyx).numpy()
        # every positive anchor's target decodes exactly to one of the ground-truth boxes ...
        np.testing.assert_allclose(iou.max(axis=1), 1.0, atol=1e-4)
        # ... and every ground-truth box is the target of at least one anchor (force-match included)
        assert (iou > 0.999).any(axis=0).all()
        boxes_seen += len(yxyx)
    assert boxes_seen > 100


def _random_boxes(rng, m, size):
    """Boxes from 1 px to the whole image, some off the grid's edges, with padding and crowd rows."""
    side = np.exp(rng.uniform(np.log(1.0 / size), 0.0, (m, 2)))
    centre = rng.uniform(0.0, 1.0, (m, 2))
    boxes = np.concatenate([centre - side / 2, centre + side / 2], 1).clip(0.0, 1.0).astype(np.float32)
    labels = rng.integers(0, 5, m).astype(np.int32)
    labels[rng.uniform(size=m) < 0.1] = -1
    labels[rng.uniform(size=m) < 0.1] = -2
    return boxes, labels


def test_grid_matching_equals_dense_matching():
    """The AnchorGrid path builds only the pairs that can matter; it gives exactly the all-pairs result."""
    from spinenet_lite.anchors import AnchorGrid

    dense = tf.function(assign_targets)  # anchors as a graph tensor: not recognised, all pairs
    rng = np.random.default_rng(0)
    for size, m in [(64, 0), (64, 1), (64, 9), (96, 40), (128, 25), (130, 60)]:
        grid = AnchorGrid(size)
        for _ in range(3):
            boxes, labels = _random_boxes(rng, m, size)
            cls_g, box_g = assign_targets(boxes, labels, grid)
            cls_d, box_d = dense(tf.constant(boxes), tf.constant(labels), tf.constant(grid.anchors()))
            np.testing.assert_array_equal(cls_g.numpy(), cls_d.numpy())
            np.testing.assert_array_equal(box_g.numpy(), box_d.numpy())
    for ratio in (0.5, 2.0):  # degenerate shapes: a line, a dot
        for boxes in ([[0.3, 0.3, 0.3, 0.6]], [[0.2, 0.2, 0.2, 0.2]], [[0.1, 0.1, 0.1 + ratio / 64, 0.12]]):
            boxes = np.array(boxes, np.float32)
            cls_g, _ = assign_targets(boxes, np.array([1]), AnchorGrid(64))
            cls_d, _ = dense(tf.constant(boxes), tf.constant([1]), tf.constant(AnchorGrid(64).anchors()))
            np.testing.assert_array_equal(cls_g.numpy(), cls_d.numpy())


def test_a_batch_equals_its_images():
    from spinenet_lite.anchors import AnchorGrid

    rng = np.random.default_rng(1)
    images = [_random_boxes(rng, m, 96) for m in (0, 3, 12, 7)]
    boxes = np.full((4, 12, 4), 0.0, np.float32)
    labels = np.full((4, 12), -1, np.int32)
    for i, (b, lab) in enumerate(images):
        boxes[i, :len(b)], labels[i, :len(b)] = b, lab
    for anchors in (AnchorGrid(96), tf.constant(generate_anchors(96)) * 1.0):
        cls, box = assign_targets(boxes, labels, anchors)
        assert cls.shape == (4, len(generate_anchors(96)))
        for i, (b, lab) in enumerate(images):
            one_cls, one_box = assign_targets(b, lab, anchors)
            np.testing.assert_array_equal(cls[i].numpy(), one_cls.numpy())
            np.testing.assert_allclose(box[i].numpy(), one_box.numpy(), atol=1e-6)
        assert (cls.numpy() >= 0).sum() > 10
