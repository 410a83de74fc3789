"""What the file runtimes share: importing the runtime package, one-line load errors, and running a batch-1
exported model image by image."""
from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.runtimes import DetectFn


def import_runtime(module: str, package: str):
    """Import a runtime module that comes with the `export` extra, naming the pip command when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SpineNetLiteError(f"{package} is not installed; run: pip install 'spinenet-lite[export]'") from None


def artifact_path(path: str | os.PathLike, kind: str, flag: str) -> Path:
    """`path` as a Path, if the file exists; else an error naming the export flag that writes one."""
    path = Path(path)
    if not path.is_file():
        raise SpineNetLiteError(f"{path}: no such {kind} model; export one with `spinenet-lite export RUN {flag}`")
    return path


@contextmanager
def loading(path: Path | str, kind: str, errors: tuple[type[BaseException], ...] = (Exception,)) -> Iterator[None]:
    """Turn a runtime's load failure (`errors`) into one line naming the file."""
    try:
        yield
    except errors as err:
        first_line = (str(err).splitlines() or [type(err).__name__])[0][:160]
        raise SpineNetLiteError(f"{path}: not a loadable {kind} model ({first_line})") from None


def per_image(runner, detections: Callable[[dict[str, np.ndarray]], list]) -> DetectFn:
    """A detect function that runs `runner` on one [1, S, S, 3] image at a time (the exports have batch 1) and
    turns each run's outputs into a list of per-image detections."""

    def detect(batch: np.ndarray) -> list:
        results = []
        for image in np.asarray(batch, np.float32):
            results.extend(detections(runner.run(image[None])))
        return results

    detect.input_size = runner.input_size  # type: ignore[attr-defined]
    return detect


def detection_op_outputs(out: dict[str, np.ndarray]) -> list:
    """The one image's detections of a model that ends in its own NMS (outputs padded to max_detections)."""
    n = int(out["num_detections"].reshape(-1)[0])
    return [{"boxes": np.clip(out["detection_boxes"][0, :n], 0.0, 1.0), "scores": out["detection_scores"][0, :n],
             "labels": out["detection_classes"][0, :n].astype(np.int32)}]


def raw_outputs(input_size: int, **postprocess_kwargs) -> Callable[[dict[str, np.ndarray]], list]:
    """Detections of a raw-output model: its box and class tensors decoded by the one post-processing."""
    from spinenet_lite.runtimes.keras import raw_postprocess_fn

    decode = raw_postprocess_fn(input_size, **postprocess_kwargs)

    def detections(out: dict[str, np.ndarray]) -> list:
        boxes = next(v for k, v in out.items() if "box" in k)
        logits = next(v for k, v in out.items() if "class" in k)
        return decode(boxes, logits)
    return detections
