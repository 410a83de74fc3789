"""Images TensorFlow cannot decode the way `load_image` reads them, normalised once into PNG files.

The readers' header probe (`preprocess.read_header`) marks each sample `tf_decodable`. A file that is not (CMYK
JPEG, EXIF-rotated, 16-bit, TIFF/GIF/BMP, data after the end marker) is read once with `load_image`, the one
reader prediction and export use, and written as an RGB PNG into the cache; the graph pipeline decodes that.
So no image trains rotated or with other colours than it predicts with. The cache key is the file's real path,
size and modification time, so an edited file is normalised again.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path
from typing import Sequence

from spinenet_lite.data.dataset import Sample
from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.io import atomic_write_bytes

logger = logging.getLogger(__name__)
DEFAULT_CACHE = Path.home() / ".cache" / "spinenet-lite" / "images"


def cached_path(path: Path, cache_dir: Path) -> Path:
    """Where the normalised copy of `path` lives (depends on its content's identity, not only its name)."""
    stat = os.stat(path)
    key = f"{os.path.realpath(path)}|{stat.st_size}|{stat.st_mtime_ns}".encode()
    return cache_dir / f"{hashlib.sha1(key).hexdigest()}.png"


def decodable_paths(samples: Sequence[Sample], cache_dir: str | Path | None = None) -> list[str | None]:
    """For each sample, a file tf.io decodes exactly as `load_image` reads the original; None (warned once,
    one line naming the file) for a file that cannot be read at all."""
    from PIL import Image

    from spinenet_lite.preprocess import load_image

    cache = Path(cache_dir) if cache_dir else DEFAULT_CACHE
    out: list[str | None] = []
    for sample in samples:
        if sample.tf_decodable:
            out.append(str(sample.path))
            continue
        try:
            target = cached_path(sample.path, cache)
            if not target.is_file():
                buffer = io.BytesIO()
                Image.fromarray(load_image(sample.path)).save(buffer, "PNG", compress_level=1)
                atomic_write_bytes(target, buffer.getvalue())
            out.append(str(target))
        except (SpineNetLiteError, OSError) as err:
            logger.warning("skipping unreadable image: %s", err)
            out.append(None)
    return out
