"""`spinenet-lite eval`: COCO metrics for a trained model, or for a COCO detections file."""
from __future__ import annotations

import json

import click

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.report import format_metrics_table, format_per_class, metrics_row


def _jsonable(metrics: dict) -> dict:
    """Metrics without the (large, numpy) detections list, ready for json.dumps."""
    return {k: v for k, v in metrics.items() if k != "detections"}


@click.command("eval", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_or_checkpoint", required=False)
@click.option("--gt", "gt_path", type=click.Path(dir_okay=False), help="COCO ground-truth JSON (with --dets).")
@click.option("--dets", "dets_path", type=click.Path(dir_okay=False),
              help="COCO results JSON: a list of {image_id, category_id, bbox [x,y,w,h], score} (with --gt).")
@click.option("--data", type=click.Path(), help="Dataset to evaluate on instead of the run's recipe data.")
@click.option("--format", "data_format", type=click.Choice(["coco", "voc", "yolo", "synthetic"]),
              help="Format of --data (default: the recipe's).")
@click.option("--split", default="val", show_default=True, help="Which split of the data to evaluate.")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1),
              help="Images per model call.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the metrics to this JSON file.")
@click.option("--save-dets", type=click.Path(dir_okay=False),
              help="Write the model's detections as a COCO results JSON (model mode).")
@click.option("--verbose", is_flag=True, help="Show faster-coco-eval's own summary output.")
def eval_cmd(run_or_checkpoint, gt_path, dets_path, data, data_format, split, batch_size, json_out, save_dets,
             verbose) -> None:
    """Print COCO AP, AP50, AP75, APs/m/l and per-class AP (points 0..100).

    \b
    spinenet-lite eval runs/49xs                      # the run's recipe data, val split
    spinenet-lite eval runs/49xs --data DIR --format voc
    spinenet-lite eval --gt GT.json --dets DETS.json  # score a COCO results file
    """
    from spinenet_lite.io import atomic_write_text

    if gt_path or dets_path:
        if not (gt_path and dets_path):
            raise SpineNetLiteError("--gt and --dets: pass both (COCO ground truth and COCO results files)")
        if run_or_checkpoint or data or save_dets:
            raise SpineNetLiteError("--gt/--dets: score a results file alone; drop RUN_OR_CHECKPOINT/--data")
        from spinenet_lite.metrics import coco_metrics_from_files

        metrics = coco_metrics_from_files(gt_path, dets_path, verbose=verbose)
        name = dets_path
    elif run_or_checkpoint:
        from spinenet_lite.evaluate import evaluate_run
        from spinenet_lite.metrics import detections_to_coco

        metrics = evaluate_run(run_or_checkpoint, data=data, data_format=data_format, split=split,
                               batch_size=batch_size)
        name = run_or_checkpoint
        if save_dets:
            atomic_write_text(save_dets, json.dumps(detections_to_coco(metrics["detections"])))
    else:
        raise SpineNetLiteError("eval: pass RUN_OR_CHECKPOINT, or --gt GT.json --dets DETS.json")

    extra = {"model": str(name)}
    if "images_per_second" in metrics:
        extra.update(images=metrics["num_images"])
    row = metrics_row(metrics, **extra)
    if "images_per_second" in metrics:
        row["img/s"] = round(metrics["images_per_second"], 1)
    click.echo(format_metrics_table([row]))
    click.echo()
    click.echo(format_per_class(metrics))
    if json_out:
        atomic_write_text(json_out, json.dumps(_jsonable(metrics), indent=2) + "\n")
        click.echo(f"\nmetrics written to {json_out}")
