"""Start training from another run's weights (`train --init RUN`): an imported Model Garden run or an own run.

The architecture and its options come from the init run (the weights only fit that model); the input size,
data and training settings from the recipe. Weights are copied layer by layer by name. The class predictor is
copied only when both runs have the same class list; otherwise it keeps its fresh initialisation (prior bias).
With `backbone_only`, the detection head (towers and predictors) starts fresh as well.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from spinenet_lite.config import Recipe
from spinenet_lite.errors import SpineNetLiteError

HEAD_PREFIXES = ("class_", "box_")


@dataclass(frozen=True)
class InitReport:
    """What `load_init_weights` copied."""

    source: Path
    copied: int  # layers with weights copied
    fresh: tuple  # layers left at their initialisation
    class_predictor: str  # "copied" | "re-initialised (classes differ)" | "re-initialised (backbone only)"


def init_recipe(recipe: Recipe, init: str | Path) -> Recipe:
    """`recipe` with the init run's model (name, activation, options), keeping the recipe's input size."""
    from spinenet_lite.config import load_recipe
    from spinenet_lite.runs import RECIPE_FILE, resolve_run

    run_dir, _ = resolve_run(init)
    if not (run_dir / RECIPE_FILE).is_file():
        raise SpineNetLiteError(f"{run_dir}: no {RECIPE_FILE}; --init takes a run folder (train or import writes one)")
    source = load_recipe(str(run_dir / RECIPE_FILE)).model
    return dataclasses.replace(recipe, model=dataclasses.replace(source, input_size=recipe.model.input_size))


def load_init_weights(model, class_names: tuple, init: str | Path, backbone_only: bool = False) -> InitReport:
    """Copy the init run's weights into `model` (built from `init_recipe`), layer by layer by name."""
    from spinenet_lite.runs import load_trained

    trained = load_trained(init)
    source = {layer.name: layer for layer in trained.model.layers if layer.weights}
    same_classes = tuple(trained.class_names) == tuple(class_names)
    copied, fresh = 0, []
    for layer in model.layers:
        if not layer.weights:
            continue
        head = layer.name.startswith(HEAD_PREFIXES)
        if (backbone_only and head) or (layer.name == "class_predict" and not same_classes):
            fresh.append(layer.name)
            continue
        src = source.get(layer.name)
        if src is None:
            raise SpineNetLiteError(f"{trained.path}: no layer {layer.name!r}; --init needs a run of the same model")
        shapes = [tuple(w.shape) for w in src.weights], [tuple(w.shape) for w in layer.weights]
        if shapes[0] != shapes[1]:
            raise SpineNetLiteError(f"{trained.path}: layer {layer.name} has weights {shapes[0]}, the model "
                                    f"{shapes[1]}; --init needs a run of the same model")
        layer.set_weights(src.get_weights())
        copied += 1
    if backbone_only:
        predictor = "re-initialised (backbone only)"
    else:
        predictor = "copied" if same_classes else "re-initialised (classes differ)"
    return InitReport(trained.path, copied, tuple(fresh), predictor)
