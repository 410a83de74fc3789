"""Training augmentation as TF ops (usable in tf.data): horizontal flip and scale jitter with random crop.

Paper (Section 4.1 / Appendix A): scale jitter in [0.5, 2.0]: the long side is resized to S * r, then a random
S x S window is cropped (or the image padded bottom/right, like `letterbox`). Random numbers come from stateless
ops driven by a per-example seed, so a seeded pipeline is reproducible.
"""
from __future__ import annotations

from spinenet_lite.keras import tf

MIN_BOX_PIXELS = 2.0  # a box narrower or lower than this after the crop is dropped
MIN_VISIBLE = 0.25  # ...as is a box with less than this fraction of its area inside the crop


def horizontal_flip(image: tf.Tensor, boxes_xyxy: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Mirror an image [h, w, 3] and its xyxy pixel boxes left-right."""
    width = tf.cast(tf.shape(image)[1], boxes_xyxy.dtype)
    x0, y0, x1, y1 = tf.unstack(boxes_xyxy, axis=-1)
    return image[:, ::-1, :], tf.stack([width - x1, y0, width - x0, y1], axis=-1)


def random_flip(image: tf.Tensor, boxes_xyxy: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Flip with probability 0.5 (stateless, from `seed` [2])."""
    flip = tf.random.stateless_uniform([], seed=seed) < 0.5
    return tf.cond(flip, lambda: horizontal_flip(image, boxes_xyxy), lambda: (image, boxes_xyxy))


def scale_jitter_crop(
    image: tf.Tensor,
    boxes_xyxy: tf.Tensor,
    labels: tf.Tensor,
    size: int,
    scale_min: float,
    scale_max: float,
    seed: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Resize the long side to size * r (r uniform in [scale_min, scale_max]), random-crop / pad to size x size.

    Returns (float32 [size, size, 3] 0..255, boxes normalised yxyx in the size x size frame, labels); boxes are
    clipped to the crop and dropped when they (almost) leave it.
    """
    seed_scale, seed_y, seed_x = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    r = tf.random.stateless_uniform([], seed=seed_scale, minval=scale_min, maxval=scale_max)
    scale = tf.cast(size, tf.float32) * r / tf.maximum(h, w)
    new_h = tf.maximum(tf.cast(tf.round(h * scale), tf.int32), 1)
    new_w = tf.maximum(tf.cast(tf.round(w * scale), tf.int32), 1)
    off_y = _random_offset(new_h - size, seed_y)
    off_x = _random_offset(new_w - size, seed_x)
    crop = _resized_window(image, new_h, new_w, off_y, off_x, size)

    offset = tf.cast(tf.stack([off_x, off_y, off_x, off_y]), tf.float32)
    moved = tf.cast(boxes_xyxy, tf.float32) * scale - offset
    clipped = tf.clip_by_value(moved, 0.0, float(size))
    cw, ch = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    area = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
    keep = (cw >= MIN_BOX_PIXELS) & (ch >= MIN_BOX_PIXELS) & (cw * ch >= MIN_VISIBLE * area)
    kept = tf.boolean_mask(clipped, keep) / float(size)
    return crop, tf.gather(kept, [1, 0, 3, 2], axis=1), tf.boolean_mask(labels, keep)


def _resized_window(image: tf.Tensor, new_h: tf.Tensor, new_w: tf.Tensor, off_y: tf.Tensor, off_x: tf.Tensor,
                    size: int) -> tf.Tensor:
    """The size x size window at (off_y, off_x) of `image` resized to new_h x new_w, zeros beyond it.

    Equal to tf.image.resize (bilinear, half-pixel centres, edges clamped) followed by the crop and a pad, but
    only the window's pixels are computed (crop_and_resize), so a 2x jitter does not resize the whole image.
    """
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    step_y, step_x = h / tf.cast(new_h, tf.float32), w / tf.cast(new_w, tf.float32)
    # source coordinate of window pixel i: (off + i + 0.5) * step - 0.5, +1 for the replicated edge
    y0 = (tf.cast(off_y, tf.float32) + 0.5) * step_y + 0.5
    x0 = (tf.cast(off_x, tf.float32) + 0.5) * step_x + 0.5
    span_y, span_x = (size - 1) * step_y, (size - 1) * step_x
    padded = tf.pad(image, [[1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")  # edge pixels repeated once: clamping
    box = tf.stack([y0 / (h + 1.0), x0 / (w + 1.0), (y0 + span_y) / (h + 1.0), (x0 + span_x) / (w + 1.0)])
    window = tf.image.crop_and_resize(padded[None], box[None], [0], [size, size], method="bilinear")[0]
    inside_y = tf.range(size) < new_h - off_y
    inside_x = tf.range(size) < new_w - off_x
    mask = tf.cast(inside_y[:, None, None] & inside_x[None, :, None], tf.float32)
    return tf.ensure_shape(window * mask, [size, size, 3])


def _random_offset(slack: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Uniform integer in [0, slack] (0 when the image is smaller than the crop)."""
    slack = tf.maximum(slack, 0)
    return tf.random.stateless_uniform([], seed=seed, minval=0, maxval=slack + 1, dtype=tf.int32)
