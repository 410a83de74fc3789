"""The embedded dataset: procedurally drawn shapes, generated once from a seed, no download.

Six classes that differ by shape (not only colour): circle, square, triangle, star, ring, cross. Objects vary in
size (side 15%-60% of the short image side), aspect ratio (0.6-1.7), colour and count (1-6 per image), overlap a
little, and sit on gradient, noisy or textured backgrounds. Images are 256-320 px. The set is written as COCO JSON
(`train.json`, `val.json`, `images/`) into a cache folder, atomically, so it is drawn once and read by the COCO
reader like any other dataset.
"""
from __future__ import annotations

import colorsys
import hashlib
import io
import json
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from spinenet_lite.io import atomic_dir

CLASS_NAMES = ("circle", "square", "triangle", "star", "ring", "cross")
VERSION = 2  # bump when the drawing changes, so caches regenerate
IMAGE_SIZES = ((320, 256), (288, 288), (256, 320))  # (width, height)
VAL_EVERY = 5  # every 5th image goes to val
# Object side as a fraction of the short image side, log-uniform. At the quickstart's 128 px input a 15% object
# is ~17 px, the smallest a 24 px level-3 anchor still matches at IoU 0.5; with 8% (version 1) a third of the
# objects could only be force-matched, and val AP on them stayed near 0 (APs 0.02 after 30 epochs).
MIN_SIDE, MAX_SIDE = 0.15, 0.6
MAX_IOU, MAX_COVER = 0.15, 0.3  # placement limits against objects already drawn


def cache_root() -> Path:
    """Where generated data lives: $SPINENET_LITE_CACHE or ~/.cache/spinenet-lite."""
    return Path(os.environ.get("SPINENET_LITE_CACHE", Path.home() / ".cache" / "spinenet-lite"))


def synthetic_dir(num_images: int = 480, seed: int = 0, root: str | Path | None = None) -> Path:
    """The cache folder for one (num_images, seed) set; its name carries a hash of the generator settings."""
    key = json.dumps({"v": VERSION, "n": num_images, "seed": seed, "classes": CLASS_NAMES, "sizes": IMAGE_SIZES})
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return Path(root) if root else cache_root() / f"synthetic-{digest}"


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A gradient, noisy or textured background, float32 [h, w, 3] 0..255."""
    kind = rng.integers(3)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 0:  # linear gradient in a random direction
        angle = rng.uniform(0, 2 * math.pi)
        t = xx * math.cos(angle) + yy * math.sin(angle)
        t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
        img = c0 + (c1 - c0) * t[..., None]
    elif kind == 1:  # flat colour with per-pixel noise
        img = np.broadcast_to(c0, (height, width, 3)) + rng.normal(0, rng.uniform(8, 25), (height, width, 3))
    else:  # low-contrast stripes or waves
        freq = rng.uniform(0.02, 0.12)
        angle = rng.uniform(0, math.pi)
        wave = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * freq * 2 * math.pi)
        wave += 0.5 * np.sin(xx * rng.uniform(0.01, 0.05) + yy * rng.uniform(0.01, 0.05))
        img = c0 + (c1 - c0) * (0.5 + 0.25 * wave[..., None]) * 0.6
    return np.clip(img, 0, 255).astype(np.float32)


def _colour(rng: np.random.Generator, background: np.ndarray) -> tuple[int, int, int]:
    """A saturated colour far enough from the mean background colour under the object."""
    mean = background.reshape(-1, 3).mean(0)
    best, best_dist = (255, 255, 255), -1.0
    for _ in range(12):
        rgb = np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.5, 1.0), rng.uniform(0.35, 1.0))) * 255
        dist = float(np.linalg.norm(rgb - mean))
        if dist > best_dist:
            best, best_dist = tuple(int(v) for v in rgb), dist
        if dist > 120:
            break
    return best


def _star_points(cx, cy, rx, ry, rotation, points=5, inner=0.45):
    out = []
    for k in range(points * 2):
        r = 1.0 if k % 2 == 0 else inner
        a = rotation + k * math.pi / points
        out.append((cx + rx * r * math.sin(a), cy - ry * r * math.cos(a)))
    return out


def _shape_points(cls: str, box: tuple[float, float, float, float], rng: np.random.Generator):
    """Polygon points for polygon classes, or None for ellipses/rectangles drawn directly."""
    x0, y0, x1, y1 = box
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    if cls == "triangle":
        if rng.uniform() < 0.5:
            return [(x0, y1), (x1, y1), (cx + rng.uniform(-0.3, 0.3) * w, y0)]
        return [(x0, y0), (x1, y0), (cx + rng.uniform(-0.3, 0.3) * w, y1)]
    if cls == "star":
        return _star_points(cx, cy, w / 2, h / 2, rng.uniform(-0.3, 0.3))
    if cls == "cross":
        t = rng.uniform(0.28, 0.38)
        ax, ay = w * t / 2, h * t / 2
        return [(cx - ax, y0), (cx + ax, y0), (cx + ax, cy - ay), (x1, cy - ay), (x1, cy + ay), (cx + ax, cy + ay),
                (cx + ax, y1), (cx - ax, y1), (cx - ax, cy + ay), (x0, cy + ay), (x0, cy - ay), (cx - ax, cy - ay)]
    return None


def _iou_and_cover(box, others):
    if not others:
        return 0.0, 0.0
    b = np.asarray(others, np.float32)
    ix = np.clip(np.minimum(b[:, 2], box[2]) - np.maximum(b[:, 0], box[0]), 0, None)
    iy = np.clip(np.minimum(b[:, 3], box[3]) - np.maximum(b[:, 1], box[1]), 0, None)
    inter = ix * iy
    area_a = (box[2] - box[0]) * (box[3] - box[1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iou = inter / (area_a + area_b - inter)
    cover = inter / np.minimum(area_a, area_b)
    return float(iou.max()), float(cover.max())


def draw_image(rng: np.random.Generator) -> tuple[Image.Image, list[list[float]], list[int]]:
    """One synthetic image with its boxes (xyxy pixels) and labels."""
    width, height = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
    background = _background(rng, width, height)
    image = Image.fromarray(background.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    short = min(width, height)
    boxes, labels = [], []
    for _ in range(int(rng.integers(1, 7))):
        for _attempt in range(20):
            side = short * math.exp(rng.uniform(math.log(MIN_SIDE), math.log(MAX_SIDE)))
            aspect = math.exp(rng.uniform(math.log(0.6), math.log(1.7)))  # w / h
            w, h = min(side * math.sqrt(aspect), width - 2), min(side / math.sqrt(aspect), height - 2)
            x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
            box = (x0, y0, x0 + w, y0 + h)
            iou, cover = _iou_and_cover(box, boxes)
            if iou <= MAX_IOU and cover <= MAX_COVER:
                break
        else:
            continue
        label = int(rng.integers(len(CLASS_NAMES)))
        cls = CLASS_NAMES[label]
        region = background[int(y0):int(y0 + h) + 1, int(x0):int(x0 + w) + 1]
        fill = _colour(rng, region)
        points = _shape_points(cls, box, rng)
        if points is not None:
            draw.polygon(points, fill=fill)
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            box = (min(xs), min(ys), max(xs), max(ys))
        elif cls == "circle":
            draw.ellipse(box, fill=fill)
        elif cls == "square":
            draw.rectangle(box, fill=fill)
        elif cls == "ring":
            draw.ellipse(box, outline=fill, width=max(2, int(min(w, h) * rng.uniform(0.14, 0.22))))
        boxes.append([round(v, 2) for v in box])
        labels.append(label)
    return image, boxes, labels


def _coco_dict(entries: list[tuple[int, str, int, int, list, list]]) -> dict:
    images, annotations = [], []
    for image_id, file_name, width, height, boxes, labels in entries:
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        for (x0, y0, x1, y1), label in zip(boxes, labels):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": label + 1,
                                "bbox": [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)],
                                "area": round((x1 - x0) * (y1 - y0), 2), "iscrowd": 0})
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(CLASS_NAMES)]
    return {"images": images, "annotations": annotations, "categories": categories}


def generate_synthetic(num_images: int = 480, seed: int = 0, root: str | Path | None = None) -> Path:
    """Draw the set into its cache folder (once; a finished folder is reused) and return the folder.

    Deterministic: image i is drawn from a generator seeded by (seed, i). Every 5th image is validation.
    """
    out = synthetic_dir(num_images, seed, root)
    if (out / "val.json").is_file():
        return out
    try:
        with atomic_dir(out) as tmp:
            (tmp / "images").mkdir()
            splits = {"train": [], "val": []}
            for i in range(num_images):
                image, boxes, labels = draw_image(np.random.default_rng([seed, i]))
                split = "val" if i % VAL_EVERY == 0 else "train"
                file_name = f"images/{split}_{i:05d}.jpg"
                buf = io.BytesIO()
                image.save(buf, format="JPEG", quality=93)
                (tmp / file_name).write_bytes(buf.getvalue())
                splits[split].append((i + 1, file_name, image.width, image.height, boxes, labels))
            for split, entries in splits.items():
                (tmp / f"{split}.json").write_text(json.dumps(_coco_dict(entries)))
    except FileExistsError:  # another process finished it first
        pass
    return out
