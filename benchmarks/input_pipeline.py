"""Input pipeline throughput: images/s and CPU ms per image of the training pipeline (decode, flip, scale
jitter, crop, pad, targets, batch) beside a bare tf.data loop that only reads, decodes and resizes.

    python benchmarks/input_pipeline.py --case bccd --cores 1 --impl pipeline
    python benchmarks/input_pipeline.py --case coco60 --cores 2 --impl bare
Cases: bccd (datasets/bccd train, VOC JPEGs 640x480, ~13 boxes each), coco60 (640x480 JPEGs written once with
60 boxes each). --cores limits the process to that many CPUs (affinity, set before TensorFlow starts).
Run another checkout's pipeline with PYTHONPATH=<checkout> (its spinenet_lite is imported instead).
--impl targets times target assignment alone on the case's boxes at the input size, once per batch as the
pipeline calls it (--per-image: once per image). Prints a Markdown row.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click

BCCD = Path(__file__).resolve().parents[1] / "datasets" / "bccd"


def _coco60(folder: Path, images: int = 64) -> Path:
    """COCO-like JPEGs (640x480 noise with 60 boxes of mixed sizes), written once."""
    import numpy as np
    from PIL import Image

    ann = folder / "coco60.json"
    if ann.is_file():
        return ann
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    data = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": f"c{i}"} for i in range(80)]}
    for i in range(images):
        pixels = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.jpg", quality=90)
        data["images"].append({"id": i + 1, "file_name": f"{i}.jpg", "width": 640, "height": 480})
        for _ in range(60):
            w, h = np.exp(rng.uniform(np.log(8), np.log(400), 2))
            x, y = rng.uniform(0, 640 - min(w, 630)), rng.uniform(0, 480 - min(h, 470))
            data["annotations"].append({"id": len(data["annotations"]) + 1, "image_id": i + 1,
                                        "category_id": int(rng.integers(1, 81)), "bbox": [x, y, min(w, 630), min(h, 470)],
                                        "area": float(w * h), "iscrowd": 0})
    ann.write_text(json.dumps(data))
    return ann


def _dataset(case: str):
    if case == "bccd":
        from spinenet_lite.data.voc import read_voc

        return read_voc(BCCD, "train")
    from spinenet_lite.data.coco import read_coco

    ann = _coco60(Path.home() / ".cache" / "spinenet-lite" / "bench-coco60")
    return read_coco(ann, ann.parent)


def _bare(ds, size: int, batch: int):
    from spinenet_lite.keras import tf

    files = tf.data.Dataset.from_tensor_slices([str(s.path) for s in ds.samples]).repeat()

    def load(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.image.resize(tf.ensure_shape(image, [None, None, 3]), [size, size])

    return files.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).batch(batch).prefetch(
        tf.data.AUTOTUNE)


@click.command()
@click.option("--case", type=click.Choice(["bccd", "coco60"]), default="bccd", show_default=True)
@click.option("--impl", type=click.Choice(["pipeline", "bare", "targets"]), default="pipeline", show_default=True)
@click.option("--cores", type=int, default=1, show_default=True, help="CPUs the process may use.")
@click.option("--size", default=384, show_default=True, help="Input size (pixels).")
@click.option("--batch", default=8, show_default=True)
@click.option("--images", default=400, show_default=True, help="Images timed (after one warm-up pass of 2 batches).")
@click.option("--per-image", is_flag=True, help="--impl targets: one call per image (the only way before batching).")
def main(case: str, impl: str, cores: int, size: int, batch: int, images: int, per_image: bool) -> None:
    """Time the input pipeline over CASE with CORES CPUs."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    import numpy as np

    import spinenet_lite
    from spinenet_lite.anchors import generate_anchors
    from spinenet_lite.keras import tf
    from spinenet_lite.targets import assign_targets

    ds = _dataset(case)
    anchors = tf.constant(generate_anchors(size), tf.float32)
    if impl == "targets":
        boxes = [np.asarray(s.boxes, np.float32)[:, [1, 0, 3, 2]] / max(s.width, s.height) for s in ds.samples]
        labels = [np.asarray(s.labels, np.int32) for s in ds.samples]
        data = tf.data.Dataset.from_generator(lambda: zip(boxes, labels), output_signature=(
            tf.TensorSpec([None, 4], tf.float32), tf.TensorSpec([None], tf.int32))).cache().repeat()
        if per_image:
            data = data.map(lambda b, lab: assign_targets(b, lab, anchors)).batch(batch)
        else:  # as the pipeline calls it: once per batch of padded boxes
            data = data.padded_batch(batch, padding_values=(0.0, -1)).map(lambda b, lab: assign_targets(b, lab, anchors))
    elif impl == "bare":
        data = _bare(ds, size, batch)
    else:
        from spinenet_lite.data.pipeline import make_dataset

        data = make_dataset(ds, size, batch, training=True, seed=0,
                            target_fn=lambda b, lab: assign_targets(b, lab, anchors)).repeat()
    it = iter(data)
    for _ in range(2):
        next(it)
    steps = max(images // batch, 1)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(steps):
        next(it)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = steps * batch
    boxes_per_image = ds.num_boxes() / len(ds)
    click.echo(f"| {case} ({boxes_per_image:.0f} boxes/img) | {impl} | {Path(spinenet_lite.__file__).parent.parent.name}"
               f" | {cores} | {n / wall:.1f} img/s | {1000 * cpu / n:.2f} ms CPU/img |")


if __name__ == "__main__":
    main()
