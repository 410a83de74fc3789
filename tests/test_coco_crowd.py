"""COCO crowd regions: kept apart by the reader, ignored in matching, and scored exactly as pycocotools does."""
import json

import numpy as np
import pytest

from spinenet_lite.data.coco import read_coco
from spinenet_lite.targets import IGNORE, assign_targets

# (id, w, h); category ids 3 and 9 (not contiguous), areas as a segmentation would give them (not w*h)
IMAGES = [(11, 200, 150), (12, 160, 160), (13, 220, 120)]
ANNS = [  # image, category, bbox xywh, area, iscrowd
    (11, 3, [10, 10, 40, 30], 900.0, 0), (11, 9, [100, 20, 60, 80], 3000.0, 0),
    (11, 3, [20, 90, 120, 50], 4800.0, 1),
    (12, 3, [5, 5, 20, 20], 300.0, 0), (12, 3, [60, 60, 90, 90], 7000.0, 0), (12, 9, [0, 100, 150, 55], 6000.0, 1),
    (13, 9, [30, 10, 50, 50], 2000.0, 0), (13, 3, [150, 40, 8, 10], 70.0, 0),
]
# detections in the file's category ids: hits, near misses, boxes on the crowd regions, false positives
DETS = [
    (11, 3, [11, 9, 40, 31], 0.9), (11, 9, [98, 22, 60, 75], 0.8), (11, 3, [25, 92, 50, 45], 0.85),
    (11, 3, [80, 95, 40, 40], 0.7), (11, 9, [30, 95, 60, 40], 0.6),
    (12, 3, [4, 6, 22, 19], 0.75), (12, 3, [62, 58, 85, 92], 0.95), (12, 9, [10, 105, 60, 45], 0.9),
    (12, 3, [100, 10, 30, 30], 0.5),
    (13, 9, [28, 12, 52, 47], 0.65), (13, 3, [149, 41, 9, 9], 0.4), (13, 9, [150, 40, 10, 10], 0.3),
]


@pytest.fixture()
def coco_file(tiny_data, tmp_path):
    images, anns = [], []
    for image_id, w, h in IMAGES:
        tiny_data.image(w, h, []).save(tmp_path / f"{image_id}.png")
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": w, "height": h})
    for k, (image_id, cat, bbox, area, crowd) in enumerate(ANNS):
        anns.append({"id": 500 + k, "image_id": image_id, "category_id": cat, "bbox": bbox, "area": area,
                     "iscrowd": crowd})
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": anns,
                                "categories": [{"id": 3, "name": "person"}, {"id": 9, "name": "boat"}]}))
    return path


def test_reader_keeps_crowd_regions_apart(coco_file):
    ds = read_coco(coco_file)
    first = ds.samples[0]
    assert first.labels.tolist() == [0, 1]
    np.testing.assert_array_equal(first.crowd_boxes, [[20, 90, 140, 140]])
    assert ds.num_boxes() == 6 and ds.boxes_per_class() == {"person": 4, "boat": 2}
    assert ds.coco_source.category_ids == (3, 9)


def test_metrics_equal_pycocotools_on_the_file(coco_file):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from spinenet_lite.metrics import coco_metrics

    ds = read_coco(coco_file)
    label = {3: 0, 9: 1}
    detections = []
    for image_id, _, _ in IMAGES:
        rows = [d for d in DETS if d[0] == image_id]
        detections.append({
            "image_id": image_id, "scores": np.array([d[3] for d in rows]), "labels": np.array([label[d[1]] for d in rows]),
            "boxes": np.array([[d[2][0], d[2][1], d[2][0] + d[2][2], d[2][1] + d[2][3]] for d in rows], np.float32)})
    ours = coco_metrics(ds, detections)

    gt = COCO(str(coco_file))
    dt = gt.loadRes([{"image_id": d[0], "category_id": d[1], "bbox": d[2], "score": d[3]} for d in DETS])
    ev = COCOeval(gt, dt, "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    for i, key in enumerate(["AP", "AP50", "AP75", "APs", "APm", "APl"]):
        assert ours[key] == pytest.approx(-1.0 if ev.stats[i] == -1 else 100 * ev.stats[i], abs=1e-7), key  # points
    # the crowd regions and areas matter here: every box non-crowd with area w*h scores differently
    plain = coco_metrics(ds.replace(coco_source=None), detections)
    assert any(abs(plain[k] - ours[k]) > 0.1 for k in ("AP", "AP50", "APs", "APm", "APl"))


ANCHORS = np.array([[0.25, 0.25, 0.5, 0.5], [0.25, 0.75, 0.5, 0.5], [0.75, 0.25, 0.5, 0.5],
                    [0.75, 0.75, 0.5, 0.5], [0.5, 0.5, 0.1, 0.1]], np.float32)


def test_anchors_on_a_crowd_region_are_ignored():
    # box 0 is anchor 0; the crowd region covers the bottom half: anchors 2 and 3 inside, anchor 4 half inside
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.0, 1.0, 1.0]], np.float32)
    cls, box = assign_targets(boxes, np.array([1, IGNORE]), ANCHORS)
    np.testing.assert_array_equal(cls.numpy(), [1, -1, -2, -2, -2])
    assert np.all(box.numpy()[1:] == 0)
    # a crowd region alone never creates a positive, even by force-matching its best anchor
    cls, _ = assign_targets(boxes[1:], np.array([IGNORE]), ANCHORS)
    np.testing.assert_array_equal(cls.numpy(), [-1, -1, -2, -2, -2])
    # an anchor only 0.4 inside the crowd stays background; a positive anchor stays positive inside a crowd
    cls, _ = assign_targets(np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.48, 0.7]], np.float32),
                            np.array([0, IGNORE]), ANCHORS)
    np.testing.assert_array_equal(cls.numpy(), [0, -1, -1, -1, -1])
