"""Readers: COCO, VOC and YOLO fixtures with the same content give the same DetectionDataset."""
import numpy as np
import pytest

from spinenet_lite.config import DataConfig
from spinenet_lite.data import load_dataset
from spinenet_lite.data.coco import read_coco
from spinenet_lite.data.voc import read_voc
from spinenet_lite.data.yolo import read_yolo
from spinenet_lite.errors import SpineNetLiteError


def _read(tiny_data, fmt, tmp_path, class_names=()):
    if fmt == "coco":
        return read_coco(tiny_data.coco(tmp_path), tmp_path, class_names)
    if fmt == "voc":
        return read_voc(tiny_data.voc(tmp_path), "train", class_names)
    return read_yolo(tiny_data.yolo(tmp_path), "train", class_names)


@pytest.mark.parametrize("fmt", ["coco", "voc", "yolo"])
def test_reader_matches_fixture(tiny_data, fmt, tmp_path):
    ds = _read(tiny_data, fmt, tmp_path)
    assert ds.class_names == tiny_data.names
    assert ds.problems == ()
    assert len(ds) == len(tiny_data.entries)
    by_stem = {s.path.stem: s for s in ds.samples}
    for stem, w, h, boxes, labels in tiny_data.entries:
        s = by_stem[stem]
        assert (s.width, s.height) == (w, h)
        assert s.boxes.dtype == np.float32 and s.labels.dtype == np.int32
        np.testing.assert_allclose(s.boxes, np.array(boxes, np.float32), atol=1e-3)
        np.testing.assert_array_equal(s.labels, labels)
    assert ds.boxes_per_class() == {"cat": 3, "dog": 3}


@pytest.mark.parametrize("fmt", ["coco", "voc", "yolo"])
def test_fixed_class_names_reorders_consistently(tiny_data, fmt, tmp_path):
    ds = _read(tiny_data, fmt, tmp_path, class_names=("dog", "cat"))
    assert ds.class_names == ("dog", "cat")
    a = next(s for s in ds.samples if s.path.stem == "a")
    np.testing.assert_array_equal(a.labels, [1, 0])


def test_voc_splits_share_class_indices(tiny_data, tmp_path):
    root = tiny_data.voc(tmp_path, splits={"train": ["b"], "val": ["a"]})
    train, val = read_voc(root, "train"), read_voc(root, "val")
    # train holds only 'dog' boxes, yet the names come from all files, so indices agree across splits
    assert train.class_names == val.class_names == tiny_data.names
    assert train.samples[0].labels.tolist() == [1]
    assert len(read_voc(root, "all")) == 3


def test_voc_missing_split_names_file(tiny_data, tmp_path):
    root = tiny_data.voc(tmp_path)
    with pytest.raises(SpineNetLiteError, match="test.txt.*train, val"):
        read_voc(root, "test")


def test_load_dataset_dispatch(tiny_data, tmp_path):
    root = tiny_data.voc(tmp_path / "voc")
    ds = load_dataset(DataConfig(format="voc", root=str(root)), "val")
    assert [s.path.stem for s in ds.samples] == ["c"]
    ann = tiny_data.coco(tmp_path / "coco")
    ds = load_dataset(DataConfig(format="coco", root=str(tmp_path / "coco"), train=ann.name), "train")
    assert len(ds) == 3 and ds.samples[0].image_id == 100
    ds = load_dataset(DataConfig(format="yolo", root=str(tiny_data.yolo(tmp_path / "yolo"))), "val")
    assert len(ds) == 3
    with pytest.raises(SpineNetLiteError, match='did you mean "voc"'):
        load_dataset(DataConfig(format="vco", root=str(root)))


def test_bccd_real_dataset(bccd_root):
    ds = read_voc(bccd_root, "all")
    assert ds.class_names == ("Platelets", "RBC", "WBC")
    assert len(ds) == 364
    # the two known zero-area boxes are reported and dropped, nothing else is wrong
    assert ds.problem_counts() == {"box_degenerate": 2}
    assert ds.num_boxes() == 4886
