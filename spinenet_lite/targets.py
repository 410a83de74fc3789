"""Training targets: match ground-truth boxes to anchors by IoU (RetinaNet / Model Garden argmax matcher).

An anchor whose best IoU with any valid ground-truth box is >= ``iou_threshold`` is positive (class id of that
box), below ``unmatched_threshold`` (default: the same value, as in the paper) it is background (-1), in between
it is ignored (-2). Each ground-truth box is also force-matched to its best anchor, so a box too small or too
oddly shaped to reach the threshold with any anchor still trains one. Pure TF ops with a dynamic number of
boxes (zero included; padded rows with label < 0 are ignored), so ``tf.data`` can ``map`` it.

Rows labelled ``IGNORE`` (-2) are crowd regions (COCO ``iscrowd: 1``): they never match, and an anchor that is
not positive and lies at least ``CROWD_IOA`` inside one (intersection over the anchor's area, the overlap
COCO evaluation uses to ignore detections on crowds) is ignored: neither positive nor negative.
"""
from __future__ import annotations

from spinenet_lite.box_coder import cyxhw_to_yxyx, encode_boxes
from spinenet_lite.keras import tf

BACKGROUND = -1
IGNORE = -2
CROWD_IOA = 0.5


def _area(boxes: tf.Tensor) -> tf.Tensor:
    y0, x0, y1, x1 = tf.unstack(boxes, axis=-1)
    return tf.maximum(y1 - y0, 0.0) * tf.maximum(x1 - x0, 0.0)


def _intersection(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Intersection areas ``[Na, Nb]`` of two sets of yxyx boxes."""
    ay0, ax0, ay1, ax1 = [t[:, None] for t in tf.unstack(a, axis=-1)]
    by0, bx0, by1, bx1 = [t[None, :] for t in tf.unstack(b, axis=-1)]
    ih = tf.maximum(tf.minimum(ay1, by1) - tf.maximum(ay0, by0), 0.0)
    iw = tf.maximum(tf.minimum(ax1, bx1) - tf.maximum(ax0, bx0), 0.0)
    return ih * iw


def pairwise_iou(boxes_a: tf.Tensor, boxes_b: tf.Tensor) -> tf.Tensor:
    """IoU matrix ``[Na, Nb]`` between two sets of ``[ymin, xmin, ymax, xmax]`` boxes (0 where union is 0)."""
    a = tf.convert_to_tensor(boxes_a, tf.float32)
    b = tf.convert_to_tensor(boxes_b, tf.float32)
    inter = _intersection(a, b)
    union = _area(a)[:, None] + _area(b)[None, :] - inter
    return tf.math.divide_no_nan(inter, union)


def assign_targets(boxes_yxyx, labels, anchors, iou_threshold: float = 0.5,
                   unmatched_threshold: float | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-anchor targets for one image.

    Args:
      boxes_yxyx: ``[M, 4]`` normalised ground-truth boxes (M may be 0; padded rows allowed).
      labels: ``[M]`` class ids; rows with a label < 0 are padding and ignored.
      anchors: ``[N, 4]`` normalised ``[yc, xc, h, w]`` from ``generate_anchors``.
      iou_threshold: IoU at or above which an anchor is positive.
      unmatched_threshold: IoU below which an anchor is background (default ``iou_threshold``).

    Returns:
      ``cls_targets`` int32 ``[N]`` (class id, -1 background, -2 ignore) and ``box_targets`` float32
      ``[N, 4]`` (encoded ``[ty, tx, th, tw]``, zeros where the anchor is not positive).
    """
    if unmatched_threshold is None:
        unmatched_threshold = iou_threshold
    boxes = tf.reshape(tf.cast(boxes_yxyx, tf.float32), [-1, 4])
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    num_anchors = tf.shape(anchors)[0]

    # Column 0 is a dummy box that never matches, so argmax/max are defined when there are no boxes.
    boxes = tf.concat([tf.zeros([1, 4], tf.float32), boxes], axis=0)
    labels = tf.concat([tf.constant([-1], tf.int32), labels], axis=0)
    valid = labels >= 0  # [M+1]
    iou = pairwise_iou(cyxhw_to_yxyx(anchors), boxes)  # [N, M+1]
    iou = tf.where(valid[None, :], iou, -1.0)

    match = tf.argmax(iou, axis=1, output_type=tf.int32)  # [N]
    best_iou = tf.reduce_max(iou, axis=1)  # [N]

    # Force-match: each valid box claims its best anchor; an anchor claimed by several boxes keeps the
    # claimant with the highest IoU (deterministic, unlike a scatter with duplicate indices).
    best_anchor = tf.argmax(iou, axis=0, output_type=tf.int32)  # [M+1]
    claims = tf.logical_and(valid, tf.reduce_max(iou, axis=0) > 0.0)  # [M+1]
    claimed = tf.logical_and(tf.one_hot(best_anchor, num_anchors, on_value=True, off_value=False, axis=0,
                                        dtype=tf.bool), claims[None, :])  # [N, M+1]
    forced = tf.reduce_any(claimed, axis=1)  # [N]
    forced_match = tf.argmax(tf.where(claimed, iou + 1.0, 0.0), axis=1, output_type=tf.int32)
    match = tf.where(forced, forced_match, match)

    positive = tf.logical_or(forced, best_iou >= iou_threshold)
    crowd = tf.equal(labels, IGNORE)  # [M+1]
    anchor_yxyx = cyxhw_to_yxyx(anchors)
    ioa = tf.math.divide_no_nan(_intersection(anchor_yxyx, boxes), _area(anchor_yxyx)[:, None])
    on_crowd = tf.reduce_max(tf.where(crowd[None, :], ioa, 0.0), axis=1) >= CROWD_IOA
    background = tf.logical_and(tf.logical_not(positive), best_iou < unmatched_threshold)
    background = tf.logical_and(background, tf.logical_not(on_crowd))
    cls_targets = tf.where(positive, tf.gather(labels, match),
                           tf.where(background, BACKGROUND, IGNORE))
    encoded = encode_boxes(tf.gather(boxes, match), anchors)
    box_targets = tf.where(positive[:, None], encoded, 0.0)
    return cls_targets, box_targets
