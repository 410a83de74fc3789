"""Training targets: match ground-truth boxes to anchors by IoU (RetinaNet / Model Garden argmax matcher).

An anchor whose best IoU with any valid ground-truth box is >= ``iou_threshold`` is positive (class id of that
box), below ``unmatched_threshold`` (default: the same value, as in the paper) it is background (-1), in between
it is ignored (-2). Each ground-truth box is also force-matched to its best anchor, so a box too small or too
oddly shaped to reach the threshold with any anchor still trains one. Pure TF ops with a dynamic number of
boxes (zero included; padded rows with label < 0 are ignored), so ``tf.data`` can ``map`` it.

Rows labelled ``IGNORE`` (-2) are crowd regions (COCO ``iscrowd: 1``): they never match, and an anchor that is
not positive and lies at least ``CROWD_IOA`` inside one (intersection over the anchor's area, the overlap
COCO evaluation uses to ignore detections on crowds) is ignored: neither positive nor negative.

The matching works on (anchor, box) pairs reduced with segment ops. Given an ``AnchorGrid`` only the pairs that
can decide anything are built: for each box and anchor shape, the grid cells whose anchors overlap the box,
and only for shapes whose best possible IoU reaches ``min(unmatched_threshold, IoU of the box's nearest
anchor)``; every other pair has an IoU too low to be a box's best anchor or to move an anchor out of
background. The result equals the dense all-pairs matching (tested), at a cost that follows the pairs kept
instead of N x M. Anchors that are not a default grid use all N x M pairs.
"""
from __future__ import annotations

import numpy as np

from spinenet_lite.anchors import AnchorGrid, anchors_yxyx
from spinenet_lite.box_coder import cyxhw_to_yxyx, encode_boxes
from spinenet_lite.keras import tf

BACKGROUND = -1
IGNORE = -2
CROWD_IOA = 0.5
_SLACK = 1e-5  # pairs within this of the pruning bound are kept (float rounding)


def _area(boxes: tf.Tensor) -> tf.Tensor:
    y0, x0, y1, x1 = tf.unstack(boxes, axis=-1)
    return tf.maximum(y1 - y0, 0.0) * tf.maximum(x1 - x0, 0.0)


def _intersection(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Intersection areas of yxyx boxes, broadcast over the leading dimensions of ``a`` and ``b``."""
    ay0, ax0, ay1, ax1 = tf.unstack(a, axis=-1)
    by0, bx0, by1, bx1 = tf.unstack(b, axis=-1)
    ih = tf.maximum(tf.minimum(ay1, by1) - tf.maximum(ay0, by0), 0.0)
    iw = tf.maximum(tf.minimum(ax1, bx1) - tf.maximum(ax0, bx0), 0.0)
    return ih * iw


def pairwise_iou(boxes_a: tf.Tensor, boxes_b: tf.Tensor) -> tf.Tensor:
    """IoU matrix ``[Na, Nb]`` between two sets of ``[ymin, xmin, ymax, xmax]`` boxes (0 where union is 0)."""
    a = tf.convert_to_tensor(boxes_a, tf.float32)[:, None, :]
    b = tf.convert_to_tensor(boxes_b, tf.float32)[None, :, :]
    inter = _intersection(a, b)
    return tf.math.divide_no_nan(inter, _area(a) + _area(b) - inter)


def _dense_pairs(num_anchors: tf.Tensor, num_boxes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    anchor = tf.repeat(tf.range(num_anchors), num_boxes)
    box = tf.tile(tf.range(num_boxes), [num_anchors])
    return anchor, box


def _grid_pairs(grid: dict, boxes: tf.Tensor, valid: tf.Tensor, crowd: tf.Tensor,
                unmatched_threshold: float) -> tuple[tf.Tensor, tf.Tensor]:
    """(anchor index, box index) of the pairs that can matter (see the module docstring)."""
    num_shapes = grid["h"].shape[0]
    stride, size = tf.constant(grid["stride"])[None, :], tf.constant(grid["size"])[None, :]
    ah, aw = tf.constant(grid["h"])[None, :], tf.constant(grid["w"])[None, :]
    y0, x0, y1, x1 = [t[:, None] for t in tf.unstack(boxes, axis=-1)]  # [M, 1]
    bh, bw = y1 - y0, x1 - x0
    # best IoU (and crowd IoA) an anchor of each shape can reach with each box: centred on it
    common = tf.minimum(ah, bh) * tf.minimum(aw, bw)
    iou_max = tf.math.divide_no_nan(common, ah * aw + bh * bw - common)  # [M, T]
    ioa_max = common / (ah * aw)
    # IoU of the anchor of each shape nearest the box centre: the box's best anchor does at least as well
    sizef = tf.cast(size, tf.float32)
    ry = (tf.clip_by_value(tf.floor((y0 + y1) / 2 / stride), 0.0, sizef - 1) + 0.5) * stride
    rx = (tf.clip_by_value(tf.floor((x0 + x1) / 2 / stride), 0.0, sizef - 1) + 0.5) * stride
    near = tf.stack([ry - ah / 2, rx - aw / 2, ry + ah / 2, rx + aw / 2], axis=-1)  # [M, T, 4]
    inter = _intersection(near, boxes[:, None, :])
    near_iou = tf.math.divide_no_nan(inter, _area(near) + _area(boxes)[:, None] - inter)
    bound = tf.minimum(tf.reduce_max(near_iou, axis=1, keepdims=True), unmatched_threshold) - _SLACK
    keep = (valid[:, None] & (iou_max >= bound)) | (crowd[:, None] & (ioa_max >= CROWD_IOA - _SLACK))
    # Grid rows / columns near enough to the box: IoU >= t needs an intersection of t * max(areas), so an
    # overlap of at least that / min(widths) in y: |yc - box yc| <= (ah + bh) / 2 - that (x alike). Crowd
    # regions need IoA >= CROWD_IOA instead. One row more on each side is harmless.
    need = tf.where(crowd[:, None], (CROWD_IOA - _SLACK) * ah * aw, tf.maximum(bound, 0.0) * tf.maximum(ah * aw, bh * bw))
    half_y = (ah + bh) / 2 - tf.math.divide_no_nan(need, tf.minimum(aw, bw))
    half_x = (aw + bw) / 2 - tf.math.divide_no_nan(need, tf.minimum(ah, bh))
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    r0 = tf.clip_by_value(tf.cast(tf.floor((cy - half_y) / stride - 0.5), tf.int32), 0, size)
    r1 = tf.clip_by_value(tf.cast(tf.floor((cy + half_y) / stride - 0.5), tf.int32) + 1, 0, size)
    c0 = tf.clip_by_value(tf.cast(tf.floor((cx - half_x) / stride - 0.5), tf.int32), 0, size)
    c1 = tf.clip_by_value(tf.cast(tf.floor((cx + half_x) / stride - 0.5), tf.int32) + 1, 0, size)
    cols = tf.maximum(c1 - c0, 0)
    count = tf.where(keep, tf.maximum(r1 - r0, 0) * cols, 0)  # [M, T]
    ends = tf.cumsum(tf.reshape(count, [-1]))
    pairs = tf.range(tf.reduce_sum(count))
    cell = tf.searchsorted(ends, pairs, side="right", out_type=tf.int32)  # each pair's (box, shape) cell
    local = pairs - tf.gather(tf.concat([[0], ends], axis=0), cell)
    shape = cell % num_shapes
    ncols = tf.gather(tf.reshape(cols, [-1]), cell)
    row = tf.gather(tf.reshape(r0, [-1]), cell) + local // ncols
    col = tf.gather(tf.reshape(c0, [-1]), cell) + local % ncols
    anchor = (tf.gather(grid["offset"], shape)
              + (row * tf.gather(grid["size"], shape) + col) * grid["per_location"] + tf.gather(grid["a"], shape))
    return anchor, cell // num_shapes


def _as_grid(anchors) -> AnchorGrid | None:
    """The AnchorGrid of concrete anchors equal to ``generate_anchors(S)``; None for symbolic or other anchors."""
    try:
        values = anchors if isinstance(anchors, np.ndarray) else anchors.numpy()
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        return None
    return AnchorGrid.of(values)


def assign_targets(boxes_yxyx, labels, anchors, iou_threshold: float = 0.5,
                   unmatched_threshold: float | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-anchor targets for one image ``[M, 4]`` or a batch ``[B, M, 4]`` (padded rows, label -1).

    Args:
      boxes_yxyx: ``[M, 4]`` or ``[B, M, 4]`` normalised ground-truth boxes (M may be 0).
      labels: ``[M]`` or ``[B, M]`` class ids; rows with a label < 0 are padding and ignored, -2 rows are crowd
        regions.
      anchors: ``[N, 4]`` normalised ``[yc, xc, h, w]``, or an ``AnchorGrid``. The anchors of
        ``generate_anchors(S)`` (array or eager tensor) are recognised and take the grid path.
      iou_threshold: IoU at or above which an anchor is positive.
      unmatched_threshold: IoU below which an anchor is background (default ``iou_threshold``).

    Returns:
      ``cls_targets`` int32 ``[(B,) N]`` (class id, -1 background, -2 ignore) and ``box_targets`` float32
      ``[(B,) N, 4]`` (encoded ``[ty, tx, th, tw]``, zeros where the anchor is not positive). A batch costs
      little more than one image: the work follows the pairs, not the number of ops.
    """
    labels = tf.cast(labels, tf.int32)
    if labels.shape.rank == 2:
        return _assign_batch(tf.cast(boxes_yxyx, tf.float32), labels, anchors, iou_threshold, unmatched_threshold)
    cls, box = _assign_batch(tf.reshape(tf.cast(boxes_yxyx, tf.float32), [1, -1, 4]), tf.reshape(labels, [1, -1]),
                             anchors, iou_threshold, unmatched_threshold)
    return cls[0], box[0]


def _assign_batch(boxes, labels, anchors, iou_threshold, unmatched_threshold):
    if unmatched_threshold is None:
        unmatched_threshold = iou_threshold
    if not isinstance(anchors, AnchorGrid):
        anchors = _as_grid(anchors) or anchors
    grid = anchors.shapes() if isinstance(anchors, AnchorGrid) else None
    if grid is not None:
        corners_all = tf.constant(anchors_yxyx(anchors.anchors()))
        anchors = tf.constant(anchors.anchors())
    else:
        anchors = tf.convert_to_tensor(anchors, tf.float32)
        corners_all = cyxhw_to_yxyx(anchors)
    batch, per_image = tf.shape(labels)[0], tf.shape(labels)[1]
    num_anchors = tf.shape(anchors)[0]
    boxes, labels = tf.reshape(boxes, [-1, 4]), tf.reshape(labels, [-1])  # box j = image * M + m
    num_boxes, num_segments = tf.shape(labels)[0], batch * num_anchors  # anchor segment = image * N + n
    valid, crowd = labels >= 0, tf.equal(labels, IGNORE)

    if grid is not None:
        pair_anchor, pair_box = _grid_pairs(grid, boxes, valid, crowd, unmatched_threshold)
        corners, gt = tf.gather(corners_all, pair_anchor), tf.gather(boxes, pair_box)
        inter, anchor_area = _intersection(corners, gt), _area(corners)
        union = anchor_area + _area(gt) - inter
        pair_anchor += (pair_box // per_image) * num_anchors
    else:  # all pairs: image, anchor, box
        shape = tf.stack([batch, num_anchors, per_image])
        image = tf.reshape(tf.broadcast_to(tf.range(batch)[:, None, None], shape), [-1])
        pair_anchor = tf.reshape(tf.broadcast_to(tf.range(num_anchors)[None, :, None], shape), [-1])
        pair_box = image * per_image + tf.reshape(tf.broadcast_to(tf.range(per_image)[None, None, :], shape), [-1])
        pair_anchor += image * num_anchors
        per_box = tf.reshape(boxes, tf.stack([batch, 1, per_image, 4]))
        inter = tf.reshape(_intersection(corners_all[None, :, None, :], per_box), [-1])
        anchor_area = tf.reshape(tf.broadcast_to(_area(corners_all)[None, :, None], shape), [-1])
        union = anchor_area + tf.reshape(tf.broadcast_to(_area(per_box), shape), [-1]) - inter
    iou = tf.math.divide_no_nan(inter, union)
    iou = tf.where(tf.gather(valid, pair_box), iou, -1.0)
    on_crowd = tf.math.unsorted_segment_max(
        tf.where(tf.gather(crowd, pair_box), tf.math.divide_no_nan(inter, anchor_area), 0.0),
        pair_anchor, num_segments) >= CROWD_IOA

    # Each anchor: its best box (ties: the first box, as argmax).
    best_iou = tf.math.unsorted_segment_max(iou, pair_anchor, num_segments)  # lowest float where no pair
    is_best = tf.equal(iou, tf.gather(best_iou, pair_anchor))
    match = tf.math.unsorted_segment_min(tf.where(is_best, pair_box, num_boxes), pair_anchor, num_segments)

    # Force-match: each valid box claims its best anchor (ties: the first anchor); an anchor claimed by several
    # boxes keeps the claimant with the highest IoU, ties going to the first box.
    box_best = tf.math.unsorted_segment_max(iou, pair_box, num_boxes)
    is_box_best = tf.equal(iou, tf.gather(box_best, pair_box))
    best_anchor = tf.math.unsorted_segment_min(tf.where(is_box_best, pair_anchor, num_segments), pair_box,
                                               num_boxes)
    claims = valid & (box_best > 0.0)
    order = tf.argsort(tf.where(claims, -box_best, 2.0), stable=True)  # claimants by falling IoU
    rank = tf.math.invert_permutation(order)
    winner = tf.math.unsorted_segment_min(tf.where(claims, rank, num_boxes),
                                          tf.where(claims, best_anchor, 0), num_segments)
    forced = winner < num_boxes
    match = tf.where(forced, tf.gather(tf.concat([order, [0]], axis=0), tf.minimum(winner, num_boxes)), match)

    positive = forced | (best_iou >= iou_threshold)
    background = ~positive & (best_iou < unmatched_threshold) & ~on_crowd
    cls_targets = tf.where(background, BACKGROUND, IGNORE)
    # labels and encodings of the positive anchors only (a few hundred of B x N), scattered into place
    positives = tf.cast(tf.where(positive)[:, 0], tf.int32)
    matched = tf.gather(match, positives)
    cls_targets = tf.tensor_scatter_nd_update(cls_targets, positives[:, None], tf.gather(labels, matched))
    encoded = encode_boxes(tf.gather(boxes, matched), tf.gather(anchors, positives % num_anchors))
    box_targets = tf.scatter_nd(positives[:, None], encoded, [num_segments, 4])
    out_shape = tf.stack([batch, num_anchors])
    return tf.reshape(cls_targets, out_shape), tf.reshape(box_targets, tf.concat([out_shape, [4]], axis=0))
