"""Exactness of `spinenet-lite import`: our imported model vs the Model Garden's own outputs on real images.

Three steps, the middle one in the Model Garden venv (benchmarks/model_garden_env.sh makes it):

    python benchmarks/model_garden_exactness.py inputs OUT/inputs.npz          # letterboxed BCCD images
    MG_VENV/bin/python benchmarks/model_garden_reference.py --images OUT/inputs.npz --out OUT/ref
    python benchmarks/model_garden_exactness.py compare OUT/ref               # import each, compare raw outputs

`compare` prints, per configuration, the largest absolute difference of the raw per-level class and box outputs
(float32) and the largest output magnitude, and exits 1 when any difference exceeds --tolerance.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

# The reference configurations (model_garden_reference.py CONFIGS) and our model names.
CONFIGS = {"49XS@256": "spinenet49xxs", "49S@384": "spinenet49xs", "49@384": "spinenet49",
           "full49@640": "spinenet49-full"}
IMAGES = ("BloodImage_00000.jpg", "BloodImage_00001.jpg")
BCCD_IMAGES = Path(__file__).resolve().parents[1] / "datasets" / "bccd" / "JPEGImages"


def letterboxed(size: int, names=IMAGES, folder: Path = BCCD_IMAGES):
    """The real images through the project's one pre-processing: [B, S, S, 3] float32 0..255."""
    import numpy as np

    from spinenet_lite.preprocess import letterbox, load_image

    return np.stack([np.asarray(letterbox(load_image(folder / name), size)[0]) for name in names])


def per_level(outputs: dict, input_size: int, num_anchors: int = 9) -> dict:
    """Our concatenated outputs split back into the Model Garden's per-level [B, H, W, A * K] layout."""
    import math

    box, cls = outputs["box_encodings"], outputs["class_logits"]
    out, start = {}, 0
    for level in range(3, 8):
        side = math.ceil(input_size / 2**level)
        n = side * side * num_anchors
        out[f"box_{level}"] = box[:, start:start + n].reshape(box.shape[0], side, side, -1)
        out[f"class_{level}"] = cls[:, start:start + n].reshape(cls.shape[0], side, side, -1)
        start += n
    return out


def compare_folder(folder: Path, model_name: str) -> dict:
    """Import `folder`'s checkpoint, run it on the reference images, return the max abs differences."""
    import numpy as np

    from spinenet_lite.model_garden import load_model_garden

    meta = json.loads((folder / "meta.json").read_text())
    model, _, size, _ = load_model_garden(folder / meta["checkpoint"], model_name, meta["input_size"])
    ref = np.load(folder / "outputs.npz")
    ours = per_level({k: v.numpy() for k, v in model(letterboxed(size), training=False).items()}, size)
    diffs = {k: float(np.abs(ours[k][..., :ref[k].shape[-1]] - ref[k]).max()) for k in ref.files}
    return {"config": folder.name, "model": model_name, "input_size": size,
            "max_abs_diff_class": max(v for k, v in diffs.items() if k.startswith("class")),
            "max_abs_diff_box": max(v for k, v in diffs.items() if k.startswith("box")),
            "max_abs_output": float(max(np.abs(ref[k]).max() for k in ref.files))}


@click.group()
def main() -> None:
    """Exactness of the Model Garden import."""


@main.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--sizes", default="256,384,640", show_default=True, help="Input sizes to letterbox to.")
def inputs(out: str, sizes: str) -> None:
    """Write the letterboxed reference images (one array `images_<size>` per size) to OUT (.npz)."""
    import numpy as np

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **{f"images_{s}": letterboxed(int(s)) for s in sizes.split(",")})
    click.echo(f"wrote {out}")


@main.command()
@click.argument("ref", type=click.Path(exists=True, file_okay=False))
@click.option("--tolerance", default=1e-4, show_default=True, help="Largest allowed absolute difference.")
def compare(ref: str, tolerance: float) -> None:
    """Import every configuration under REF and compare with the Model Garden's outputs."""
    worst = 0.0
    click.echo("| Model Garden config | ours | max abs diff class | max abs diff box | max abs output |")
    click.echo("|---|---|---|---|---|")
    for config, name in CONFIGS.items():
        folder = Path(ref) / config
        if not folder.is_dir():
            continue
        r = compare_folder(folder, name)
        worst = max(worst, r["max_abs_diff_class"], r["max_abs_diff_box"])
        click.echo(f"| {config} | {name} | {r['max_abs_diff_class']:.2e} | {r['max_abs_diff_box']:.2e} | "
                   f"{r['max_abs_output']:.1f} |")
    click.echo(f"worst {worst:.2e} (tolerance {tolerance:g})")
    sys.exit(0 if worst <= tolerance else 1)


if __name__ == "__main__":
    main()
