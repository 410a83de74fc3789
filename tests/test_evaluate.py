"""COCO evaluator: agreement with AP computed by hand (101-point interpolation) and with pycocotools."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.metrics import coco_metrics_from_files, detections_to_coco, score_coco
from spinenet_lite.report import format_metrics_table, format_per_class, metrics_row

def test_matches_hand_computed_ap(hand_case):
    hand = hand_case.hand_ap()
    m = score_coco(copy.deepcopy(hand_case.gt), detections_to_coco(hand_case.detections))
    assert m["per_class"]["a"] == pytest.approx(hand["a"], abs=1e-7)
    assert m["per_class"]["b"] == 0.0
    for key in ("AP", "AP50", "AP75"):
        assert m[key] == pytest.approx(hand[key], abs=1e-7), key
    assert m["APm"] == pytest.approx(hand["AP"], abs=1e-7)  # every box is medium (32^2 < 1600 < 96^2)
    assert m["APs"] == -1.0 and m["APl"] == -1.0  # no ground truth there: COCO's -1


def test_no_detections_is_zero_not_a_crash(hand_case, capsys):
    m = score_coco(copy.deepcopy(hand_case.gt), [])
    assert m["AP"] == 0.0 and m["AP50"] == 0.0 and m["per_class"] == {"a": 0.0, "b": 0.0}
    assert capsys.readouterr().out == ""  # faster-coco-eval stays silent unless verbose


def test_detections_to_coco_is_xywh_and_one_based(hand_case):
    res = detections_to_coco(hand_case.detections)
    assert res[2] == {"image_id": 7, "category_id": 1, "bbox": [108.0, 100.0, 40.0, 40.0],
                      "score": pytest.approx(0.7)}


def test_unknown_image_or_category_is_a_clear_error(hand_case):
    bad = detections_to_coco(hand_case.detections)
    bad[0]["image_id"] = 99
    with pytest.raises(SpineNetLiteError, match="image_id 99"):
        score_coco(copy.deepcopy(hand_case.gt), bad)
    bad = detections_to_coco(hand_case.detections)
    bad[0]["category_id"] = 5
    with pytest.raises(SpineNetLiteError, match="category_id 5"):
        score_coco(copy.deepcopy(hand_case.gt), bad)


def test_files_and_bad_files(hand_case, tmp_path):
    gt, dets = tmp_path / "gt.json", tmp_path / "dets.json"
    gt.write_text(json.dumps(hand_case.gt))
    dets.write_text(json.dumps(detections_to_coco(hand_case.detections)))
    assert coco_metrics_from_files(gt, dets)["AP"] == pytest.approx(hand_case.hand_ap()["AP"], abs=1e-7)
    dets.write_text("{not json")
    with pytest.raises(SpineNetLiteError, match="dets.json: not valid JSON"):
        coco_metrics_from_files(gt, dets)
    with pytest.raises(SpineNetLiteError, match="missing.json: detections file not found"):
        coco_metrics_from_files(gt, tmp_path / "missing.json")


def test_agrees_with_pycocotools_on_random_detections():
    pycoco = pytest.importorskip("pycocotools.cocoeval")
    from pycocotools.coco import COCO

    rng = np.random.default_rng(0)
    images, anns, results = [], [], []
    for image_id in range(1, 21):
        images.append({"id": image_id, "width": 320, "height": 240})
        for _ in range(rng.integers(0, 6)):
            x, y = rng.uniform(0, 200), rng.uniform(0, 150)
            w, h = rng.uniform(4, 120), rng.uniform(4, 90)
            cat = int(rng.integers(1, 4))
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": cat, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0})
            for _ in range(2):  # a jittered copy (often a TP) and a wrong-class or displaced one
                j = rng.normal(0, 6, 4)
                results.append({"image_id": image_id, "category_id": cat if rng.random() < 0.7 else 1 + cat % 3,
                                "bbox": [x + j[0], y + j[1], max(1.0, w + j[2]), max(1.0, h + j[3])],
                                "score": float(rng.random())})
    gt = {"images": images, "annotations": anns, "categories": [{"id": i, "name": f"c{i}"} for i in (1, 2, 3)]}
    ours = score_coco(copy.deepcopy(gt), copy.deepcopy(results))
    coco_gt = COCO()
    coco_gt.dataset = copy.deepcopy(gt)
    coco_gt.createIndex()
    ev = pycoco.COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(results)), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    for i, key in enumerate(("AP", "AP50", "AP75", "APs", "APm", "APl")):
        assert ours[key] == pytest.approx(-1.0 if ev.stats[i] == -1 else 100 * ev.stats[i], abs=1e-4), key
    assert 5 < ours["AP"] < 95  # a non-degenerate case


def test_metrics_table_prints_points_and_na(hand_case):
    m = score_coco(copy.deepcopy(hand_case.gt), detections_to_coco(hand_case.detections))
    table = format_metrics_table([metrics_row(m, model="m1")])
    header, rule, row = table.splitlines()
    assert header.split() == ["model", "AP", "AP50", "AP75", "APs", "APm", "APl"]
    assert row.split() == ["m1", f"{m['AP']:.1f}", f"{m['AP50']:.1f}", f"{m['AP75']:.1f}", "n/a",
                           f"{m['APm']:.1f}", "n/a"]
    per_class = [line.split() for line in format_per_class(m).splitlines()[2:]]
    assert per_class == [["a", f"{hand_case.hand_ap()['a']:.1f}"], ["b", "0.0"]]


def _dataset():
    from spinenet_lite.data.dataset import DetectionDataset, Sample

    gt_boxes = np.array([[10, 10, 50, 50], [100, 100, 140, 140], [10, 100, 50, 140]], np.float32)
    sample = Sample(image_id=7, path=Path("x.jpg"), width=200, height=200,
                    boxes=gt_boxes, labels=np.array([0, 0, 1], np.int32))
    return DetectionDataset(class_names=("a", "b"), samples=(sample,), root=Path("."))


def test_coco_metrics_on_a_dataset_matches_hand_and_coco_files(hand_case):
    from spinenet_lite.metrics import coco_metrics, dataset_to_coco

    ds = _dataset()
    gt = dataset_to_coco(ds)
    assert gt["categories"] == hand_case.gt["categories"]
    assert [a["bbox"] for a in gt["annotations"]] == [a["bbox"] for a in hand_case.gt["annotations"]]
    assert [a["area"] for a in gt["annotations"]] == [1600.0] * 3
    m = coco_metrics(ds, hand_case.detections)
    assert m == score_coco(copy.deepcopy(hand_case.gt), detections_to_coco(hand_case.detections))
    assert m["AP"] == pytest.approx(hand_case.hand_ap()["AP"], abs=1e-7)
    assert coco_metrics(ds, [])["AP"] == 0.0
    renamed = coco_metrics(ds, hand_case.detections, class_names=("cell", "platelet"))
    assert set(renamed["per_class"]) == {"cell", "platelet"}


def _image_dataset(tmp_path):
    """Three real JPEG files of different shapes with boxes, as a DetectionDataset."""
    from PIL import Image

    from spinenet_lite.data.dataset import DetectionDataset, Sample

    specs = [((120, 80), [[5, 5, 60, 40], [70, 10, 115, 75]], [0, 1]),
             ((64, 100), [[10, 20, 50, 90]], [1]),
             ((90, 90), [[0, 0, 89, 89], [30, 30, 45, 50]], [0, 0])]
    samples = []
    for i, ((w, h), boxes, labels) in enumerate(specs):
        path = tmp_path / f"img{i}.jpg"
        Image.new("RGB", (w, h), (40 * i, 90, 160)).save(path)
        samples.append(Sample(image_id=i + 1, path=path, width=w, height=h,
                              boxes=np.array(boxes, np.float32), labels=np.array(labels, np.int32)))
    return DetectionDataset(class_names=("a", "b"), samples=tuple(samples), root=tmp_path)


def _oracle(dataset, size):
    """A detect function that returns each image's ground truth in the letterboxed frame (normalised yxyx)."""
    pending = list(dataset.samples)

    def detect(batch):
        assert batch.dtype == np.float32 and batch.shape[1:] == (size, size, 3) and batch.max() <= 255.0
        out = []
        for _ in range(batch.shape[0]):
            s = pending.pop(0)
            scale = size / max(s.width, s.height)
            boxes = s.boxes[:, [1, 0, 3, 2]] * scale / size
            out.append({"boxes": boxes, "scores": np.full(len(boxes), 0.9), "labels": s.labels})
        return out

    return detect


@pytest.mark.parametrize("batch_size", [1, 2, 8])
def test_evaluate_maps_letterboxed_boxes_back(tmp_path, batch_size):
    from spinenet_lite.evaluate import evaluate

    ds = _image_dataset(tmp_path)
    result = evaluate(_oracle(ds, 64), ds, 64, batch_size=batch_size, progress=False)
    assert result["AP"] == pytest.approx(100.0, abs=1e-4) and result["AP75"] == pytest.approx(100.0, abs=1e-4)
    assert [d["image_id"] for d in result["detections"]] == [1, 2, 3]
    np.testing.assert_allclose(result["detections"][0]["boxes"], ds.samples[0].boxes, atol=0.05)
    assert result["num_images"] == 3 and result["images_per_second"] > 0


def test_evaluate_rejects_a_detect_fn_with_wrong_count(tmp_path):
    from spinenet_lite.evaluate import evaluate

    ds = _image_dataset(tmp_path)
    with pytest.raises(SpineNetLiteError, match="one dict per image"):
        evaluate(lambda batch: [], ds, 64, progress=False)
