"""The one pre-processing function: load an image as RGB and letterbox it to S x S.

Training, evaluation, export calibration, prediction and benchmarks all call `letterbox`, so they can never
disagree. The model takes float32 RGB values in 0..255 and normalises inside its first layer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from spinenet_lite.errors import SpineNetLiteError

# EXIF orientations that swap width and height once applied.
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)
_EXIF_ORIENTATION = 0x0112


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 RGB [h, w, 3], EXIF orientation applied.

    Grayscale, palette, RGBA, CMYK and 16-bit images are converted to RGB. A missing or corrupt file raises
    SpineNetLiteError naming the file.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            return to_rgb_array(img)
    except FileNotFoundError:
        raise SpineNetLiteError(f"{path}: image file not found; check the path or remove it from the annotations") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SpineNetLiteError(f"{path}: cannot decode image ({msg}); replace or remove the file") from None


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """Convert any PIL image mode to a uint8 RGB array (alpha dropped, 16-bit scaled down)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = max(float(arr.max()), 1.0)
        arr = (arr * (255.0 / (65535.0 if peak > 255 else 255.0))).clip(0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode != "RGB":
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.uint8)
    return np.ascontiguousarray(arr)


# Files tf.io.decode_image reads exactly as `load_image` does: format -> colour modes. Anything else (CMYK
# JPEG, 16-bit PNG, TIFF, GIF, BMP, EXIF-rotated, data after the end marker) goes through `load_image` once.
_TF_DECODES = {"JPEG": ("RGB", "L"), "PNG": ("RGB", "RGBA", "L", "LA", "P"), "WEBP": ("RGB", "RGBA")}
_END_MARKERS = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82"}


def image_size(path: str | Path) -> tuple[int, int, str]:
    """(width, height, mode) from the file header, after EXIF orientation; raises SpineNetLiteError if unreadable."""
    return read_header(path)[:3]


def read_header(path: str | Path) -> tuple[int, int, str, bool]:
    """(width, height, mode, tf_decodable) from the file header, after EXIF orientation.

    tf_decodable: TensorFlow's decoder gives the same pixels as `load_image` (format and colour mode it
    handles, no EXIF rotation, the file ends with its format's end marker, so it is not truncated).
    Raises SpineNetLiteError if unreadable.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            width, height = img.size
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
            mode, fmt = img.mode, img.format
            ends = True
            if fmt in _END_MARKERS:
                with open(path, "rb") as f:
                    f.seek(0, 2)
                    f.seek(max(f.tell() - len(_END_MARKERS[fmt]), 0))
                    ends = f.read() == _END_MARKERS[fmt]
            tf_decodable = mode in _TF_DECODES.get(fmt, ()) and orientation in (None, 1) and ends
    except FileNotFoundError:
        raise SpineNetLiteError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SpineNetLiteError(f"{path}: cannot read image header ({msg}); replace or remove the file") from None
    if orientation in _TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    return width, height, mode, tf_decodable


def letterbox(image: Any, size: int) -> tuple[Any, Any]:
    """Resize so the long side is `size` (aspect kept, bilinear), pad bottom/right with 0 to size x size.

    Works on a uint8 or float tensor/array [h, w, 3], inside tf.data or eagerly. Returns
    (float32 [size, size, 3] in 0..255, scale) with scale = size / max(h, w): a box in letterboxed pixels maps
    back to the original image by dividing by scale.
    """
    from spinenet_lite.keras import tf

    image = tf.convert_to_tensor(image)
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    h = tf.cast(shape[0], tf.float32)
    w = tf.cast(shape[1], tf.float32)
    scale = tf.cast(size, tf.float32) / tf.maximum(h, w)
    new_h = tf.clip_by_value(tf.cast(tf.round(h * scale), tf.int32), 1, size)
    new_w = tf.clip_by_value(tf.cast(tf.round(w * scale), tf.int32), 1, size)
    resized = tf.image.resize(image, tf.stack([new_h, new_w]), method="bilinear")
    resized = tf.clip_by_value(resized, 0.0, 255.0)
    padded = tf.image.pad_to_bounding_box(resized, 0, 0, size, size)
    padded = tf.ensure_shape(padded, [size, size, 3])
    return padded, scale


def letterbox_boxes(boxes_xyxy: np.ndarray, scale: float, size: int) -> np.ndarray:
    """Map xyxy pixel boxes of the original image to normalised yxyx in the letterboxed size x size frame."""
    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4) * np.float32(scale) / np.float32(size)
    return boxes[:, [1, 0, 3, 2]].clip(0.0, 1.0)


def unletterbox_boxes(boxes_yxyx: np.ndarray, scale: float, size: int) -> np.ndarray:
    """Inverse of letterbox_boxes: normalised yxyx in the S x S frame to xyxy pixels of the original image."""
    boxes = np.asarray(boxes_yxyx, np.float32).reshape(-1, 4) * np.float32(size) / np.float32(scale)
    return boxes[:, [1, 0, 3, 2]]
