"""Int8 TFLite of an imported Model Garden checkpoint: its parity with the float model it came from.

The imported model predicts COCO's 91 ids, which no local dataset has, so AP on a dataset's own labels says
nothing. The gate here labels BCCD's validation images with the float model's own detections
(`export.parity.float_labelled`): the float model scores ~100 AP against itself, the int8 model's AP drop is
its disagreement with it (limit: the recipe's max_ap_drop_int8). Also printed: the raw outputs of an int8 --raw
export against the float ones on the same images (cosine, largest difference over the largest float output).

    python benchmarks/model_garden_int8.py --checkpoint tests/fixtures/model_garden/ckpt-1 --out runs/mg_int8
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@click.command()
@click.option("--checkpoint", default=str(ROOT / "tests" / "fixtures" / "model_garden" / "ckpt-1"), show_default=True)
@click.option("--model", "model_name", default="spinenet49xxs", show_default=True)
@click.option("--data", default=str(ROOT / "datasets" / "bccd"), show_default=True,
              help="Images to calibrate on (train split) and to compare on (val split), Pascal VOC layout.")
@click.option("--calibration-images", default=100, show_default=True)
@click.option("--min-score", default=0.5, show_default=True, help="Float detections kept as labels.")
@click.option("--raw/--no-raw", default=True, show_default=True, help="Also export --raw and compare raw outputs.")
@click.option("--out", default="runs/mg_int8", show_default=True, help="Run and exports (kept; reused when present).")
def main(checkpoint: str, model_name: str, data: str, calibration_images: int, min_score: float, raw: bool,
         out: str) -> None:
    from spinenet_lite.config import DataConfig
    from spinenet_lite.data import load_dataset
    from spinenet_lite.export.api import export
    from spinenet_lite.export.parity import check, float_labelled, format_table, parity_gate
    from spinenet_lite.model_garden import import_checkpoint
    from spinenet_lite.runs import RECIPE_FILE, load_run
    from spinenet_lite.runtimes.tflite import requantization_scales

    out_dir = Path(out)
    run = out_dir / "imported"
    if not (run / RECIPE_FILE).is_file():
        import_checkpoint(checkpoint, model_name, out=run)
    trained = load_run(run)
    recipe = trained.recipe
    data_cfg = dataclasses.replace(DataConfig(), format="voc", root=data, train="train", val="val")
    recipe = dataclasses.replace(recipe, data=data_cfg,
                                 export=dataclasses.replace(recipe.export, calibration_images=calibration_images))
    trained = dataclasses.replace(trained, recipe=recipe)
    size = trained.input_size
    paths = {}
    for kind in (False, True) if raw else (False,):
        folder = out_dir / ("export_raw" if kind else "export")
        found = sorted(folder.glob("*.tflite"))
        paths[kind] = found[0] if found else next(iter(export(trained, ["tflite"], out=folder, precision="int8",
                                                              raw=kind, overwrite=True, gate=False).artifacts.values()))
    detection = paths[False]
    worst = max(scale for _, _, scale in requantization_scales(detection.read_bytes()))
    click.echo(f"largest int8 requantization scale: {worst:.2f} (XNNPACK takes < 256)")

    val = load_dataset(data_cfg, "val")
    reference = trained.detect_fn(reference=True)
    labelled = float_labelled(val, reference, size, trained.class_names, min_score)
    boxes = sum(len(s.boxes) for s in labelled.samples)
    click.echo(f"{len(labelled.samples)} BCCD val images labelled with {boxes} float detections (score >= {min_score})")
    rows = parity_gate(reference, {"tflite-int8": str(detection)}, labelled, size,
                       max_drop_int8=recipe.export.max_ap_drop_int8)
    click.echo(format_table(rows))
    if raw:
        compare_raw(trained, paths[True], val, size)
    check(rows)


def compare_raw(trained, raw_path: Path, val, size: int) -> None:
    """Cosine and largest difference of the int8 --raw outputs against the float model's, per image."""
    from spinenet_lite.preprocess import letterbox, load_image
    from spinenet_lite.runtimes.tflite import TFLiteRunner

    runner = TFLiteRunner(raw_path)
    cosines, ratios = {"box_encodings": [], "class_logits": []}, {"box_encodings": [], "class_logits": []}
    for sample in val.samples:
        image = np.asarray(letterbox(load_image(sample.path), size)[0], np.float32)[None]
        got = runner.run(image)
        want = {k: v.numpy() for k, v in trained.model(image, training=False).items()}
        for key in cosines:
            a, b = got[key].ravel(), want[key].ravel()
            cosines[key].append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
            ratios[key].append(float(np.abs(a - b).max() / np.abs(b).max()))
    for key in cosines:
        click.echo(f"raw {key}: cosine min {min(cosines[key]):.5f}, max |int8 - float| / max |float| "
                   f"{max(ratios[key]):.4f} over {len(val.samples)} images")


if __name__ == "__main__":
    main()
