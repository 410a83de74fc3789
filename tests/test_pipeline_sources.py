"""The graph pipeline's sources: files tf.io cannot decode as read go through the image cache; TFRecord shards
(Object Detection API layout) give the same batches as the files; several input pipelines split the data."""
import numpy as np
import pytest
from PIL import Image

from spinenet_lite.data.pipeline import make_dataset
from spinenet_lite.data.voc import read_voc
from spinenet_lite.keras import tf
from spinenet_lite.preprocess import letterbox, load_image


def _eval_batches(source, size=64):
    images, ids, boxes = [], [], []
    for image, y in make_dataset(source, size, 2, training=False):
        images.append(image.numpy())
        ids.append(y["image_id"].numpy())
        boxes.append(y["boxes"].numpy())
    return np.concatenate(images), np.concatenate(ids), np.concatenate(boxes)


def test_rotated_cmyk_and_16_bit_files_train_as_they_predict(tiny_data, tmp_path):
    root = tiny_data.voc(tmp_path / "voc")
    folder = root / "JPEGImages"
    a = np.asarray(Image.open(folder / "a.png").convert("RGB"))
    # a: JPEG whose pixels are stored sideways with an EXIF orientation tag (6: rotate 90 clockwise to view)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(a, 1))).save(folder / "a.png", "JPEG", quality=98, exif=exif)
    Image.open(folder / "b.png").convert("CMYK").save(folder / "b.png", "JPEG", quality=98)
    c = np.asarray(Image.open(folder / "c.png").convert("L")).astype(np.uint16) * 257
    Image.fromarray(c).save(folder / "c.png")
    ds = read_voc(root, "train")
    assert [s.tf_decodable for s in ds.samples] == [False, False, False]
    images, ids, _ = _eval_batches(ds.replace(root=root))
    for sample, image in zip(ds.samples, images):
        expected, _ = letterbox(load_image(sample.path), 64)
        np.testing.assert_allclose(image, expected.numpy(), atol=1e-3)
    assert len(list((tmp_path / "cache").glob("*.png"))) == 0  # default cache is not the test folder
    make_dataset(ds, 64, 2, training=False, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.png"))) == 3


def test_tfrecords_give_the_same_batches_as_the_files(tiny_data, tmp_path):
    from spinenet_lite.data.tfrecord import open_tfrecords, write_tfrecords

    ds = read_voc(tiny_data.voc(tmp_path / "voc"), "train")
    files = write_tfrecords(ds, str(tmp_path / "records"), "train", shards=2)
    assert [f.rsplit("/", 1)[1] for f in files] == ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
    source = open_tfrecords(str(tmp_path / "records" / "train-*.tfrecord"))
    assert source.class_names == ds.class_names
    images, ids, boxes = _eval_batches(source)
    ref_images, ref_ids, ref_boxes = _eval_batches(ds)
    order = np.argsort(ids)
    np.testing.assert_array_equal(ids[order], np.sort(ref_ids))
    ref = np.argsort(ref_ids)
    np.testing.assert_array_equal(images[order], ref_images[ref])
    np.testing.assert_allclose(boxes[order], ref_boxes[ref], atol=1e-6)
    # training batches with targets come out of the records too
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.targets import assign_targets

    anchors = tf.constant(generate_anchors(64))
    train = make_dataset(source, 64, 2, training=True, seed=0,
                         target_fn=lambda b, lab: assign_targets(b, lab, anchors))
    images, y = next(iter(train))
    assert images.shape == (2, 64, 64, 3) and y["cls_targets"].shape == (2, anchors.shape[0])


@pytest.mark.parametrize("kind", ["files", "tfrecord"])
def test_input_pipelines_read_disjoint_shards(tiny_data, tmp_path, kind):
    from spinenet_lite.data.tfrecord import open_tfrecords, write_tfrecords

    entries = tuple((f"{stem}{k}", w, h, boxes, labels) for k in range(2) for stem, w, h, boxes, labels in tiny_data.entries)
    ds = read_voc(tiny_data.voc(tmp_path / "voc", entries=entries), "train")
    source = ds
    if kind == "tfrecord":
        write_tfrecords(ds, str(tmp_path / "records"), "train", shards=4)
        source = open_tfrecords(str(tmp_path / "records" / "*.tfrecord"))
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        data = make_dataset(source, 64, 2, training=False, input_context=context)
        seen.append(sorted(int(i) for _, y in data for i in y["image_id"].numpy()))
    assert seen[0] and seen[1] and not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == sorted(s.image_id for s in ds.samples)


def test_default_training_pipeline_is_parallel_and_complete(tiny_data, tmp_path):
    ds = read_voc(tiny_data.voc(tmp_path / "voc"), "train")
    data = make_dataset(ds, 64, 1, training=True, seed=0)
    assert data.options().deterministic is False
    labels = sorted(int(l) for _, y in data for l in y["labels"].numpy().ravel() if l >= 0)
    assert len(labels) >= 4  # every image arrives; boxes may leave the crop


def test_cli_convert_writes_shards_the_recipe_reads(tiny_data, tmp_path, capsys):
    from spinenet_lite.cli import main
    from spinenet_lite.config import DataConfig
    from spinenet_lite.data import load_dataset
    from spinenet_lite.data.tfrecord import TFRecordSource

    root = tiny_data.voc(tmp_path / "voc")
    assert main(["data", "convert", str(root), "--to", "tfrecord", "--split", "train", "--shards", "2",
                 "--out", str(tmp_path / "out")]) == 0
    assert "3 images, 6 boxes -> 2 file(s)" in capsys.readouterr().out
    cfg = DataConfig(format="tfrecord", root=str(tmp_path / "out"), train="train-*", val="train-*")
    train = load_dataset(cfg, "train")
    assert isinstance(train, TFRecordSource) and len(train) == 3 and len(train.files) == 2
    val = load_dataset(cfg, "val")  # evaluation reads images: the records are unpacked once into the cache
    original = read_voc(root, "train")
    assert sorted(s.image_id for s in val.samples) == sorted(s.image_id for s in original.samples)
    for sample in val.samples:
        ref = next(s for s in original.samples if s.image_id == sample.image_id)
        np.testing.assert_allclose(sample.boxes, ref.boxes, atol=1e-3)
        np.testing.assert_array_equal(load_image(sample.path), load_image(ref.path))
    assert main(["data", "convert", str(root), "--to", "tfrecord", "--shards", "0", "--out", str(tmp_path / "x")])
