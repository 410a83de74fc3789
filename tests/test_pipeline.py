"""tf.data pipeline: boxes stay on their objects through flip and scale-jitter crop, seeds reproduce, targets map."""
import numpy as np
import pytest
from PIL import Image

from spinenet_lite.config import DataConfig
from spinenet_lite.data.augment import horizontal_flip, scale_jitter_crop
from spinenet_lite.data.pipeline import make_dataset
from spinenet_lite.data.voc import read_voc
from spinenet_lite.keras import tf

# one bright box per image, off-centre so a flip moves it
ONE_BOX = tuple((f"i{k}", w, h, [box], [k % 2]) for k, (w, h, box) in enumerate([
    (64, 48, [4, 6, 24, 30]), (48, 64, [6, 30, 30, 60]), (80, 40, [50, 4, 76, 30]), (60, 60, [2, 2, 22, 40]),
    (64, 48, [40, 20, 60, 44]), (50, 70, [5, 5, 45, 25]), (72, 54, [10, 30, 40, 50]), (40, 40, [20, 4, 38, 20]),
]))


@pytest.fixture()
def one_box_ds(tiny_data, tmp_path):
    return read_voc(tiny_data.voc(tmp_path, entries=ONE_BOX, splits={"train": [e[0] for e in ONE_BOX]}), "train")


def _bright_yxyx(image: np.ndarray, size: int):
    ys, xs = np.nonzero(image[..., 0] > 128)
    if len(ys) == 0:
        return None
    return np.array([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1], np.float32) / size


def test_horizontal_flip_moves_boxes_with_pixels():
    img = np.zeros((20, 30, 3), np.uint8)
    img[2:8, 3:10] = 255
    flipped, boxes = horizontal_flip(tf.constant(img), tf.constant([[3.0, 2.0, 10.0, 8.0]]))
    ys, xs = np.nonzero(flipped.numpy()[..., 0])
    np.testing.assert_array_equal(boxes.numpy()[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])


def test_scale_jitter_crop_keeps_boxes_aligned():
    img = np.zeros((48, 64, 3), np.uint8)
    img[10:30, 20:50] = 255
    for k in range(12):
        out, boxes, labels = scale_jitter_crop(tf.constant(img), tf.constant([[20.0, 10.0, 50.0, 30.0]]),
                                               tf.constant([3]), 64, 0.5, 2.0, tf.constant([k, 7]))
        bright = _bright_yxyx(out.numpy(), 64)
        if labels.shape[0]:
            assert labels.numpy().tolist() == [3]
            np.testing.assert_allclose(boxes.numpy()[0], bright, atol=2.0 / 64)
        else:  # dropped: at most a sliver of the object is visible
            assert bright is None or np.prod(bright[2:] - bright[:2]) * 64 * 64 < 0.25 * 600 * 4


def test_training_batches_aligned_flipped_and_reproducible(one_box_ds):
    size = 64
    data = make_dataset(one_box_ds, size, 4, training=True, seed=3, deterministic=True)
    centres_x, seen = [], 0
    for _epoch in range(3):
        for images, y in data:
            assert images.shape == (4, size, size, 3) and images.dtype == tf.float32
            assert y["boxes"].shape == (4, 100, 4) and y["labels"].shape == (4, 100)
            for image, boxes, labels in zip(images.numpy(), y["boxes"].numpy(), y["labels"].numpy()):
                assert np.all(labels[1:] == -1)
                if labels[0] >= 0:
                    np.testing.assert_allclose(boxes[0], _bright_yxyx(image, size), atol=2.5 / size)
                    centres_x.append((boxes[0, 1] + boxes[0, 3]) / 2)
                seen += 1
    assert seen == 3 * 8  # drop_remainder with 8 images, batch 4
    assert len(centres_x) > 12
    again = [y["boxes"].numpy() for _, y in make_dataset(one_box_ds, size, 4, training=True, seed=3,
                                                                deterministic=True)]
    first = [y["boxes"].numpy() for _, y in data.take(2)]
    epoch1 = [y["boxes"].numpy() for _, y in make_dataset(one_box_ds, size, 4, training=True, seed=3,
                                                                 deterministic=True)]
    np.testing.assert_array_equal(np.stack(again), np.stack(epoch1))  # same seed, same first epoch
    assert not np.array_equal(np.stack(first), np.stack(again))  # later epochs differ


def test_flip_off_keeps_orientation(one_box_ds):
    cfg = DataConfig(hflip=False, scale_min=1.0, scale_max=1.0)
    sample = {s.path.stem: s for s in one_box_ds.samples}
    for images, y in make_dataset(one_box_ds, 64, 8, training=True, seed=0, data_cfg=cfg):
        for image, boxes in zip(images.numpy(), y["boxes"].numpy()):
            assert _bright_yxyx(image, 64) is not None
            np.testing.assert_allclose(boxes[0], _bright_yxyx(image, 64), atol=2.5 / 64)
    # at scale 1 without flips every box equals its letterboxed original
    s = sample["i0"]
    expected = np.array([6, 4, 30, 24]) * (64 / max(s.width, s.height)) / 64
    assert any(np.allclose(b[0], expected, atol=1e-5) for b in y["boxes"].numpy())


def test_eval_batches_letterboxed_in_order_with_ids(one_box_ds):
    batches = list(make_dataset(one_box_ds, 64, 3, training=False))
    assert [b[0].shape[0] for b in batches] == [3, 3, 2]  # last partial batch kept
    ids = np.concatenate([y["image_id"].numpy() for _, y in batches])
    assert ids.tolist() == [s.image_id for s in one_box_ds.samples]
    for images, y in batches:
        for image, boxes, scale in zip(images.numpy(), y["boxes"].numpy(), y["scale"].numpy()):
            np.testing.assert_allclose(boxes[0], _bright_yxyx(image, 64), atol=1.5 / 64)
            assert 0 < scale


def test_unreadable_and_cmyk_images(tiny_data, tmp_path):
    root = tiny_data.voc(tmp_path, entries=ONE_BOX, splits={"train": [e[0] for e in ONE_BOX]})
    ds = read_voc(root, "train")
    Image.open(root / "JPEGImages" / "i1.png").convert("CMYK").save(root / "JPEGImages" / "i1.jpg")
    (root / "JPEGImages" / "i1.png").write_bytes((root / "JPEGImages" / "i1.jpg").read_bytes())
    data = (root / "JPEGImages" / "i2.png").read_bytes()
    (root / "JPEGImages" / "i2.png").write_bytes(data[:60])  # truncated after the header was probed
    batches = list(make_dataset(ds, 64, 4, training=False))
    n = sum(int(b[0].shape[0]) for b in batches)
    assert n == 7  # the truncated image is skipped, the CMYK one decodes
    ids = np.concatenate([y["image_id"].numpy() for _, y in batches]).tolist()
    assert ds.samples[2].image_id not in ids and ds.samples[1].image_id in ids


def test_target_fn_with_real_anchor_assignment(one_box_ds):
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.targets import assign_targets

    anchors = tf.constant(generate_anchors(64), tf.float32)
    data = make_dataset(one_box_ds, 64, 4, training=True, seed=1,
                        target_fn=lambda boxes, labels: assign_targets(boxes, labels, anchors))
    images, y = next(iter(data))
    assert set(y) == {"cls_targets", "box_targets"}
    assert y["cls_targets"].shape == (4, anchors.shape[0]) and y["box_targets"].shape == (4, anchors.shape[0], 4)
    assert int(tf.reduce_sum(tf.cast(y["cls_targets"] >= 0, tf.int32))) > 0
