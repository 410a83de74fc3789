"""`spinenet-lite data ...`: inspect and check datasets."""
from __future__ import annotations

import re
from pathlib import Path

import click

from spinenet_lite.errors import SpineNetLiteError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def data() -> None:
    """Inspect and check a dataset."""


@data.command("check")
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["auto", "coco", "voc", "yolo", "synthetic"]), default="auto",
              show_default=True, help="Dataset format; auto detects it from PATH.")
@click.option("--split", default=None,
              help="Split to check: VOC ImageSets name or 'all' (default all), YOLO key (default train), "
                   "synthetic train/val (default train), COCO: the JSON given as PATH.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="runs/data-check", show_default=True,
              help="Folder for the mosaic PNG of images with their boxes.")
@click.option("--images", "images", type=click.Path(exists=True, file_okay=False), default=None,
              help="COCO: the folder holding the images, as data.root in a recipe (default: the .json's folder).")
@click.option("--mosaic", "count", type=click.IntRange(1, 64), default=12, show_default=True,
              help="How many images the mosaic PNG shows.")
def check(path: str, fmt: str, split: str | None, out_dir: str, images: str | None, count: int) -> None:
    """Count images, boxes and boxes per class, list every problem, and draw a mosaic of a few images.

    PATH is a VOC folder, a COCO annotation .json (images in --images), a YOLO data .yaml (or its folder), or
    'synthetic' for the embedded set. Exits 0 when the data is usable for training.
    """
    from spinenet_lite.data.check import check_dataset, format_report, write_mosaic

    report = check_dataset(path, fmt, split, images=images)
    click.echo(format_report(report))
    if not report.usable:
        hint = ""
        if report.data_cfg.format == "coco" and not images:
            hint = f"; if the images are in another folder than {report.data_cfg.root}, pass it with --images"
        raise SpineNetLiteError(f"{path}: no usable images (see the problems above){hint}")
    name = "synthetic" if report.data_cfg.format == "synthetic" else Path(path).resolve().name
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{name}-{report.split or 'all'}")
    png = write_mosaic(report.dataset, Path(out_dir) / f"{stem}.png", count=count)
    click.echo(f"mosaic: {png}")


@data.command("convert")
@click.argument("src")
@click.option("--to", "target", type=click.Choice(["tfrecord"]), required=True, help="Output format.")
@click.option("--out", "out_dir", required=True, help="Output folder (local or gs://).")
@click.option("--format", "fmt", type=click.Choice(["auto", "coco", "voc", "yolo"]), default="auto",
              show_default=True, help="Format of SRC; auto detects it.")
@click.option("--split", default=None, help="Split of SRC to convert (VOC ImageSets name, YOLO key); COCO: the "
              "JSON given as SRC. Also names the output files.")
@click.option("--shards", type=click.IntRange(1, 100_000), default=1, show_default=True,
              help="Number of TFRecord files; several workers read one share of the files each.")
def convert(src: str, target: str, out_dir: str, fmt: str, split: str | None, shards: int) -> None:
    """Write SRC (COCO .json, VOC folder or YOLO data .yaml) as TFRecord shards in the TF Object Detection API
    layout, with classes.txt beside them; train on them with data.format: tfrecord."""
    from spinenet_lite.data import load_dataset
    from spinenet_lite.data.check import DEFAULT_SPLIT, detect_format
    from spinenet_lite.data.tfrecord import write_tfrecords

    cfg = detect_format(src, fmt)
    which = split or (cfg.train if cfg.format == "coco" else DEFAULT_SPLIT[cfg.format])
    if which == "all":
        which = "train"
    ds = load_dataset(cfg, which)
    name = split or (Path(src).stem if cfg.format == "coco" else which)
    files = write_tfrecords(ds, out_dir, re.sub(r"[^A-Za-z0-9_.-]+", "_", name), shards)
    click.echo(f"{len(ds)} images, {ds.num_boxes()} boxes -> {len(files)} file(s) in {out_dir}")
