"""Every bad-input case gets a clear error or a counted, reported skip; never a crash or a silent drop."""
import json

import numpy as np
import pytest
from PIL import Image

from spinenet_lite.data.check import check_dataset
from spinenet_lite.data.coco import read_coco
from spinenet_lite.data.voc import read_voc
from spinenet_lite.data.yolo import read_yolo
from spinenet_lite.errors import SpineNetLiteError


def kinds(ds):
    return sorted(p.kind for p in ds.problems)


def _edit_coco(path, fn):
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def test_missing_and_corrupt_images_are_skipped_and_reported(tiny_data, tmp_path):
    root = tiny_data.voc(tmp_path)
    (root / "JPEGImages" / "a.png").unlink()
    (root / "JPEGImages" / "b.png").write_bytes(b"not an image at all")
    ds = read_voc(root, "train")
    assert [s.path.stem for s in ds.samples] == ["c"]
    assert kinds(ds) == ["corrupt_image", "missing_image"]
    assert any("a.png" in p.path for p in ds.problems if p.kind == "missing_image")


def test_truncated_image_found_by_check(tiny_data, tmp_path):
    root = tiny_data.voc(tmp_path)
    jpg = root / "JPEGImages" / "c.png"
    Image.open(jpg).convert("RGB").save(root / "JPEGImages" / "c.jpg", quality=90)
    data = (root / "JPEGImages" / "c.jpg").read_bytes()
    jpg.write_bytes(data[: len(data) // 3])  # header intact, body cut: passes the header probe
    report = check_dataset(str(root))
    assert len(report.dataset) == 2
    assert [p.kind for p in report.problems] == ["corrupt_image"]


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16"])
def test_non_rgb_images_are_converted_and_reported(tiny_data, tmp_path, mode):
    root = tiny_data.voc(tmp_path)
    img = Image.open(root / "JPEGImages" / "a.png").convert("RGB")
    converted = img.convert("L").convert("I;16") if mode == "I;16" else img.convert(mode)
    name = "a.jpg" if mode == "CMYK" else "a.png"
    converted.save(root / "JPEGImages" / name)
    if mode == "CMYK":
        xml = root / "Annotations" / "a.xml"
        xml.write_text(xml.read_text().replace("a.png", "a.jpg"))
    report = check_dataset(str(root), split="train")
    assert len(report.dataset) == 3
    assert [p.kind for p in report.problems] == ["image_mode"]


def test_boxes_outside_are_clipped_degenerate_dropped(tiny_data, tmp_path):
    entries = (("a", 64, 48, [[-5, 6, 30, 60], [10, 10, 10, 20], [30, 30, 20, 40], [70, 0, 90, 10], [1, 2, 3, 4]],
                [0, 1, 0, 1, 1]),)
    root = tiny_data.voc(tmp_path, entries=entries, splits={"train": ["a"]})
    ds = read_voc(root, "train", class_names=("cat", "dog"))
    s = ds.samples[0]
    np.testing.assert_array_equal(s.boxes, [[0, 6, 30, 48], [1, 2, 3, 4]])
    np.testing.assert_array_equal(s.labels, [0, 1])
    assert kinds(ds) == ["box_clipped", "box_degenerate", "box_degenerate", "box_degenerate"]


def test_unknown_classes_reported(tiny_data, tmp_path):
    ann = tiny_data.coco(tmp_path / "coco")
    _edit_coco(ann, lambda d: d["annotations"].append({"id": 99, "image_id": 100, "category_id": 42,
                                                        "bbox": [1, 1, 5, 5]}))
    ds = read_coco(ann, tmp_path / "coco")
    assert kinds(ds) == ["unknown_class"] and "42" in ds.problems[0].message
    assert ds.num_boxes() == 6

    root = tiny_data.voc(tmp_path / "voc")
    ds = read_voc(root, "train", class_names=("cat",))
    assert kinds(ds) == ["unknown_class"] * 3 and ds.num_boxes() == 3

    data_yaml = tiny_data.yolo(tmp_path / "yolo")
    (tmp_path / "yolo" / "labels" / "train" / "a.txt").write_text("5 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\nbad line\n")
    ds = read_yolo(data_yaml, "train")
    assert kinds(ds) == ["bad_annotation", "unknown_class"]
    assert ds.num_boxes() == 5


def test_empty_annotation_files(tiny_data, tmp_path):
    root = tiny_data.voc(tmp_path / "voc")
    (root / "Annotations" / "a.xml").write_text("")
    ds = read_voc(root, "train")
    assert kinds(ds) == ["empty_annotation"] and len(ds) == 2

    data_yaml = tiny_data.yolo(tmp_path / "yolo")
    (tmp_path / "yolo" / "labels" / "train" / "b.txt").write_text("")
    ds = read_yolo(data_yaml, "train")
    assert kinds(ds) == ["empty_annotation"] and len(ds) == 3  # kept as a background image

    ann = tiny_data.coco(tmp_path / "coco")
    ann.write_text("")
    with pytest.raises(SpineNetLiteError, match=r"ann\.json: annotation file is empty"):
        read_coco(ann, tmp_path / "coco")


def test_unreadable_annotation_files_name_the_file(tiny_data, tmp_path):
    root = tiny_data.voc(tmp_path / "voc")
    (root / "Annotations" / "b.xml").write_text("<annotation><object>")
    with pytest.raises(SpineNetLiteError, match=r"b\.xml: not valid XML"):
        read_voc(root, "train")
    ann = tiny_data.coco(tmp_path / "coco")
    ann.write_text("{not json")
    with pytest.raises(SpineNetLiteError, match=r"ann\.json: not valid JSON"):
        read_coco(ann, tmp_path / "coco")
    with pytest.raises(SpineNetLiteError, match="no_such_dir"):
        read_voc(tmp_path / "no_such_dir", "train")
    with pytest.raises(SpineNetLiteError, match="missing.yaml"):
        read_yolo(tmp_path / "missing.yaml", "train")


def test_duplicate_image_ids(tiny_data, tmp_path):
    ann = tiny_data.coco(tmp_path / "coco")
    _edit_coco(ann, lambda d: d["images"].append(dict(d["images"][0], file_name="images/b.png")))
    ds = read_coco(ann, tmp_path / "coco")
    assert kinds(ds) == ["duplicate_image"] and len(ds) == 3

    root = tiny_data.voc(tmp_path / "voc", splits={"train": ["a", "b", "a"]})
    ds = read_voc(root, "train")
    assert kinds(ds) == ["duplicate_image"] and len(ds) == 2


def test_paths_escaping_root_are_refused(tiny_data, tmp_path):
    outside = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(outside)
    ann = tiny_data.coco(tmp_path / "coco", file_names={"a": "../secret.png", "b": str(outside)})
    ds = read_coco(ann, tmp_path / "coco")
    assert kinds(ds) == ["path_escapes_root"] * 2
    assert [s.path.stem for s in ds.samples] == ["c"]

    data_yaml = tiny_data.yolo(tmp_path / "yolo")
    (tmp_path / "yolo" / "list.txt").write_text("images/train/a.png\n../secret.png\n")
    data_yaml.write_text("path: .\ntrain: list.txt\nnames: [cat, dog]\n")
    ds = read_yolo(data_yaml, "train")
    assert kinds(ds) == ["path_escapes_root"] and len(ds) == 1


def test_check_counts_and_problem_list(tiny_data, tmp_path):
    from spinenet_lite.data.check import format_report

    root = tiny_data.voc(tmp_path)
    (root / "JPEGImages" / "a.png").unlink()
    report = check_dataset(str(root), split="all")
    text = format_report(report)
    assert "images: 2 usable, boxes: 4" in text
    assert "missing_image" in text and "a.png" in text
    assert len(tiny_data.entries) == 3
