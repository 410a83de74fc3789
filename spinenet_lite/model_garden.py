"""Import a TensorFlow Model Garden RetinaNet checkpoint (SpineNet-Mobile or SpineNet) into a spinenet-lite run.

The Model Garden saves `tf.train.Checkpoint(model=RetinaNetModel, ...)`. Its head's variables sit under named
attributes (`model/_head/_cls_convs/0/...`), its backbone's under a functional model's ordinal keys
(`layer_with_weights-K`), whose order is the functional graph's, not the code's. Every variable also carries the
Keras name it was created with (`conv2d_5/kernel`, `inverted_bottleneck_block_3/conv2d/kernel`): names are
numbered per layer type in creation order, and the creation order is the order of the Model Garden's builder,
which `_mobile_order` / `_full_order` walk on our model's layer names. So each backbone layer is matched by
(type, creation index) and every variable is checked by shape; inside a block (MBConv, bottleneck, residual)
the Model Garden's attribute names (`_conv0`, `_norm0`, ...) name the parts.

What differs from our defaults becomes a model option (set in the written recipe), so the imported model
computes the same function: the ImageNet input normalisation, swish everywhere, the squeeze-excite's relu and
hard sigmoid, truncated channel widths. The head's tower convolutions carry a bias in the Model Garden; each
feeds a batch norm, so the bias is folded into that norm's moving mean (`mean - bias`), which is the same
function at inference and has no effect on training (batch statistics subtract it).

The class space is the Model Garden's COCO one: 91 outputs, index = COCO category id, index 0 unused
(`COCO_91_CLASSES`); it is kept as is, not mapped to 80, so the outputs are exactly the checkpoint's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spinenet_lite.errors import SpineNetLiteError

SOURCES = ("model-garden",)

# The Model Garden ids of our models, its input size, and the overrides that reproduce its function.
MOBILE_IMPORT = {"activation": "swish", "se_activation": "relu", "se_gate": "hard_sigmoid",
                 "normalization": "imagenet", "channel_rounding": "truncate"}
FULL_IMPORT = {"activation": "swish", "normalization": "imagenet"}


@dataclass(frozen=True)
class GardenModel:
    """A Model Garden configuration we can import: its id, family, input size and our overrides."""

    garden_id: str
    family: str
    input_size: int
    overrides: dict


GARDEN_MODELS = {
    "spinenet49xxs": GardenModel("SpineNetMobile 49XS", "mobile", 256, MOBILE_IMPORT),
    "spinenet49xs": GardenModel("SpineNetMobile 49S", "mobile", 384, MOBILE_IMPORT),
    "spinenet49": GardenModel("SpineNetMobile 49", "mobile", 384, MOBILE_IMPORT),
    "spinenet49s-full": GardenModel("SpineNet 49S", "full", 640, FULL_IMPORT),
    "spinenet49-full": GardenModel("SpineNet 49", "full", 640, FULL_IMPORT),
    "spinenet96-full": GardenModel("SpineNet 96", "full", 1024, FULL_IMPORT),
    "spinenet143-full": GardenModel("SpineNet 143", "full", 1280, FULL_IMPORT),
    "spinenet190-full": GardenModel("SpineNet 190", "full", 1280, FULL_IMPORT),
}

_COCO = {1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train", 8: "truck",
         9: "boat", 10: "traffic light", 11: "fire hydrant", 13: "stop sign", 14: "parking meter", 15: "bench",
         16: "bird", 17: "cat", 18: "dog", 19: "horse", 20: "sheep", 21: "cow", 22: "elephant", 23: "bear",
         24: "zebra", 25: "giraffe", 27: "backpack", 28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase",
         34: "frisbee", 35: "skis", 36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat",
         40: "baseball glove", 41: "skateboard", 42: "surfboard", 43: "tennis racket", 44: "bottle",
         46: "wine glass", 47: "cup", 48: "fork", 49: "knife", 50: "spoon", 51: "bowl", 52: "banana", 53: "apple",
         54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot", 58: "hot dog", 59: "pizza", 60: "donut",
         61: "cake", 62: "chair", 63: "couch", 64: "potted plant", 65: "bed", 67: "dining table", 70: "toilet",
         72: "tv", 73: "laptop", 74: "mouse", 75: "remote", 76: "keyboard", 77: "cell phone", 78: "microwave",
         79: "oven", 80: "toaster", 81: "sink", 82: "refrigerator", 84: "book", 85: "clock", 86: "vase",
         87: "scissors", 88: "teddy bear", 89: "hair drier", 90: "toothbrush"}
# Index = COCO category id; the 11 ids COCO never uses (and 0) keep placeholder names so the names stay unique.
COCO_91_CLASSES = tuple(_COCO.get(i, f"unused-{i}") for i in range(91))


# ---------------------------------------------------------------- reading the checkpoint
class _Node:
    """One object of the checkpoint's object graph: named children and, for a variable, (key, full name)."""

    def __init__(self, proto):
        self.children = {c.local_name: c.node_id for c in proto.children}
        values = [(a.checkpoint_key, a.full_name) for a in proto.attributes if a.name == "VARIABLE_VALUE"]
        self.variable = values[0] if values else None


class GardenCheckpoint:
    """A Model Garden checkpoint's object graph and values, read with `tf.train.load_checkpoint`."""

    def __init__(self, path: str | Path):
        from spinenet_lite.keras import tf
        from tensorflow.core.protobuf import trackable_object_graph_pb2

        prefix = _checkpoint_prefix(Path(path))
        try:
            self.reader = tf.train.load_checkpoint(prefix)
            graph = trackable_object_graph_pb2.TrackableObjectGraph()
            graph.ParseFromString(self.reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
        except (tf.errors.OpError, ValueError) as err:
            raise SpineNetLiteError(f"{path}: not a readable TensorFlow checkpoint ({str(err).splitlines()[0][:120]})") from None
        self.path = prefix
        self.nodes = [_Node(n) for n in graph.nodes]
        model = self._child(0, ("model",), "a `model` object (the Model Garden saves tf.train.Checkpoint(model=...))")
        self.backbone = self._child(model, ("_backbone", "backbone"), "a RetinaNet backbone")
        self.head = self._child(model, ("_head", "head"), "a RetinaNet head")

    def _child(self, node: int, names: tuple, what: str) -> int:
        for name in names:
            if name in self.nodes[node].children:
                return self.nodes[node].children[name]
        raise SpineNetLiteError(f"{self.path}: no {what} in this checkpoint; pass a Model Garden RetinaNet checkpoint")

    def find(self, node: int, path: str) -> int | None:
        """The node at `path` ("a/b/0") below `node`, or None."""
        for part in path.split("/"):
            node = self.nodes[node].children.get(part)
            if node is None:
                return None
        return node

    def values(self, node: int) -> dict[str, np.ndarray]:
        """The variables directly on `node`, by short name (kernel, gamma, moving_mean, ...)."""
        out = {}
        for name, child in self.nodes[node].children.items():
            variable = self.nodes[child].variable
            if variable is not None:
                out[name] = self.reader.get_tensor(variable[0])
        return out

    def top_layers(self) -> dict[str, list[int]]:
        """The backbone's layers with weights, grouped by Keras layer type, each in creation order."""
        groups: dict[str, list[tuple[int, int]]] = {}
        for local, node in self.nodes[self.backbone].children.items():
            if not local.startswith("layer_with_weights-"):
                continue
            full = self._any_full_name(node)
            match = re.fullmatch(r"(.+?)(?:_(\d+))?", full.split("/")[0])
            groups.setdefault(match.group(1), []).append((int(match.group(2) or 0), node))
        return {kind: [n for _, n in sorted(items)] for kind, items in groups.items()}

    def _any_full_name(self, node: int) -> str:
        stack = [node]
        while stack:
            n = self.nodes[stack.pop()]
            if n.variable is not None and n.variable[1]:
                return n.variable[1]
            stack.extend(n.children.values())
        raise SpineNetLiteError(f"{self.path}: a backbone layer has no variable names; cannot match it to a layer")


def _checkpoint_prefix(path: Path) -> str:
    """`ckpt-123` for a checkpoint prefix, its `.index` file, or the newest checkpoint in a folder."""
    from spinenet_lite.keras import tf

    if path.is_dir():
        latest = tf.train.latest_checkpoint(str(path))
        if latest is None:
            indexes = sorted(path.glob("*.index"), key=lambda p: p.stat().st_mtime)
            if not indexes:
                raise SpineNetLiteError(f"{path}: no checkpoint (.index file) in this folder")
            latest = str(indexes[-1].with_suffix(""))
        return latest
    if path.suffix == ".index" or path.name.startswith("ckpt") and ".data-" in path.name:
        return str(path).split(".data-")[0].removesuffix(".index")
    if Path(f"{path}.index").is_file():
        return str(path)
    raise SpineNetLiteError(f"{path}: no such checkpoint; pass the prefix (e.g. ckpt-277200), its .index or its folder")


# ---------------------------------------------------------------- the Model Garden's creation order
def _mobile_order(names: set[str], num_blocks: int) -> dict[str, list]:
    """Our layers in the Model Garden's SpineNetMobile creation order, per Keras layer type."""
    order: dict[str, list] = {"conv2d": ["stem_conv"], "batch_normalization": ["stem_bn"],
                              "depthwise_conv2d": [], "inverted_bottleneck_block": ["stem_block1", "stem_block2"]}
    for i in range(1, num_blocks + 1):
        for j in range(2):
            p, k = f"block{i}_in{j}", 0
            while f"{p}_down{k}_dw" in names:
                order["depthwise_conv2d"].append(f"{p}_down{k}_dw")
                order["batch_normalization"].append(f"{p}_down{k}_dw_bn")
                k += 1
            order["conv2d"].append(f"{p}_match_conv")
            order["batch_normalization"].append(f"{p}_match_bn")
        order["inverted_bottleneck_block"].append(f"block{i}")
    for level in range(3, 8):
        order["conv2d"].append(f"P{level}_conv")
        order["batch_normalization"].append(f"P{level}_bn")
    return order


_MBCONV_PARTS = {"_conv0": "expand_conv", "_norm0": "expand_bn", "_conv1": "dw", "_norm1": "dw_bn",
                 "_squeeze_excitation/_se_reduce": "se_reduce", "_squeeze_excitation/_se_expand": "se_expand",
                 "_conv2": "project_conv", "_norm2": "project_bn"}
_BOTTLENECK_PARTS = {"_shortcut": "proj_conv", "_norm0": "proj_bn", "_conv1": "a_conv", "_norm1": "a_bn",
                     "_conv2": "b_conv", "_norm2": "b_bn", "_conv3": "c_conv", "_norm3": "c_bn"}
_RESIDUAL_PARTS = {"_shortcut": "proj_conv", "_norm0": "proj_bn", "_conv1": "a_conv", "_norm1": "a_bn",
                   "_conv2": "b_conv", "_norm2": "b_bn"}


def _full_order(names: set[str], num_blocks: int, repeats: int) -> dict[str, list]:
    """Our layers in the Model Garden's SpineNet creation order, per Keras layer type."""
    order: dict[str, list] = {"conv2d": ["stem_conv"], "batch_normalization": ["stem_bn"],
                              "bottleneck_block": [], "residual_block": []}

    def group(prefix: str) -> None:
        for r in range(repeats):
            name = f"{prefix}_r{r}" if repeats > 1 else prefix
            kind = "bottleneck_block" if f"{name}_c_conv" in names else "residual_block"
            order[kind].append(name)

    group("stem_block1")
    group("stem_block2")
    for i in range(1, num_blocks + 1):
        for j in range(2):
            p = f"block{i}_in{j}"
            for part in ("alpha", "down", "match"):
                if f"{p}_{part}_conv" in names:
                    order["conv2d"].append(f"{p}_{part}_conv")
                    order["batch_normalization"].append(f"{p}_{part}_bn")
        group(f"block{i}")
    for level in range(3, 8):
        order["conv2d"].append(f"P{level}_conv")
        order["batch_normalization"].append(f"P{level}_bn")
    return order


# ---------------------------------------------------------------- assigning
def _assign(layer, values: dict[str, np.ndarray], where: str) -> None:
    """Set `layer`'s weights from `values` by short variable name, checking every shape."""
    weights = []
    for w in layer.weights:
        short = w.name.split("/")[-1].split(":")[0]
        if short not in values:
            raise SpineNetLiteError(f"{where}: the checkpoint has no {short!r} for layer {layer.name} "
                                    f"(has {sorted(values)}); the checkpoint is not this model")
        if tuple(values[short].shape) != tuple(w.shape):
            raise SpineNetLiteError(f"{where}: {short} is {tuple(values[short].shape)} in the checkpoint but "
                                    f"{tuple(w.shape)} in {layer.name}; the checkpoint is another model (try --model)")
        weights.append(values[short])
    layer.set_weights(weights)


def _load_backbone(ckpt: GardenCheckpoint, model, family: str, repeats: int) -> int:
    from spinenet_lite.models.specs import FULL_BLOCKS, MOBILE_BLOCKS

    layers = {layer.name: layer for layer in model.layers}
    names = set(layers)
    order = (_mobile_order(names, len(MOBILE_BLOCKS)) if family == "mobile"
             else _full_order(names, len(FULL_BLOCKS), repeats))
    found = ckpt.top_layers()
    count = 0
    for kind, ours in order.items():
        theirs = found.get(kind, [])
        if len(theirs) != len(ours):
            raise SpineNetLiteError(f"{ckpt.path}: the backbone has {len(theirs)} {kind} layers, {model.name} "
                                    f"{len(ours)}; the checkpoint is another model (try --model)")
        for name, node in zip(ours, theirs):
            if kind in ("conv2d", "batch_normalization", "depthwise_conv2d"):
                _assign(layers[name], ckpt.values(node), f"{ckpt.path} ({kind} -> {name})")
                count += 1
                continue
            parts = {"inverted_bottleneck_block": _MBCONV_PARTS, "bottleneck_block": _BOTTLENECK_PARTS,
                     "residual_block": _RESIDUAL_PARTS}[kind]
            for path, suffix in parts.items():
                sub = ckpt.find(node, path)
                if f"{name}_{suffix}" not in layers:
                    if sub is not None and ckpt.values(sub):
                        raise SpineNetLiteError(f"{ckpt.path}: {kind} {path} has no counterpart in {name}")
                    continue
                if sub is None:
                    raise SpineNetLiteError(f"{ckpt.path}: {kind} for {name} has no {path}; another model?")
                _assign(layers[f"{name}_{suffix}"], ckpt.values(sub), f"{ckpt.path} ({kind}{path} -> {name})")
                count += 1
    return count


def _load_head(ckpt: GardenCheckpoint, model, num_convs: int) -> int:
    layers = {layer.name: layer for layer in model.layers}
    count = 0
    for tower, ours in (("_cls", "class_tower"), ("_box", "box_tower")):
        for i in range(num_convs):
            conv = ckpt.find(ckpt.head, f"{tower}_convs/{i}")
            if conv is None:
                raise SpineNetLiteError(f"{ckpt.path}: the head has no {tower}_convs/{i}; head_convs differ")
            values = ckpt.values(conv)
            bias = values.pop("bias", None)
            _assign(layers[f"{ours}_conv{i}"], values, f"{ckpt.path} ({tower}_convs/{i})")
            for li, level in enumerate(range(3, 8)):
                norm = ckpt.values(ckpt.find(ckpt.head, f"{tower}_norms/{li}/{i}"))
                if bias is not None:  # conv bias -> BN: BN(x + b) with mean m is BN(x) with mean m - b
                    norm["moving_mean"] = norm["moving_mean"] - bias
                _assign(layers[f"{ours}_conv{i}_P{level}_bn"], norm, f"{ckpt.path} ({tower}_norms/{li}/{i})")
            count += 6
    for attr, ours in (("_classifier", "class_predict"), ("_box_regressor", "box_predict")):
        _assign(layers[ours], ckpt.values(ckpt.find(ckpt.head, attr)), f"{ckpt.path} ({attr})")
        count += 1
    return count


def garden_num_classes(ckpt: GardenCheckpoint, num_anchors: int = 9) -> int:
    """Classes of the checkpoint's head: the classifier's bias length over the anchors per location."""
    node = ckpt.find(ckpt.head, "_classifier")
    bias = ckpt.values(node).get("bias") if node is not None else None
    if bias is None or bias.shape[0] % num_anchors:
        raise SpineNetLiteError(f"{ckpt.path}: the head's classifier has no bias of anchors x classes")
    return bias.shape[0] // num_anchors


def load_model_garden(checkpoint: str | Path, model_name: str, input_size: int | None = None):
    """Build `model_name` with the Model Garden's options and load the checkpoint into it.

    Returns (model, overrides, input size, class names).
    """
    from spinenet_lite.errors import suggest
    from spinenet_lite.models.registry import MOBILE_DEFAULTS, create_model

    if model_name not in GARDEN_MODELS:
        raise SpineNetLiteError(f"--model {model_name!r}: the Model Garden publishes no such model"
                                f"{suggest(model_name, GARDEN_MODELS)}; choose from {', '.join(GARDEN_MODELS)}")
    garden = GARDEN_MODELS[model_name]
    ckpt = GardenCheckpoint(checkpoint)
    num_classes = garden_num_classes(ckpt)
    size = int(input_size or garden.input_size)
    overrides = dict(garden.overrides)
    model = create_model(model_name, num_classes=num_classes, input_size=size, **overrides)
    from spinenet_lite.models.specs import FULL_SCALING

    repeats = FULL_SCALING[model_name].block_repeats if garden.family == "full" else MOBILE_DEFAULTS["block_repeats"]
    _load_backbone(ckpt, model, garden.family, repeats)
    _load_head(ckpt, model, 4)
    names = COCO_91_CLASSES if num_classes == 91 else tuple(f"class-{i}" for i in range(num_classes))
    return model, overrides, size, names


def import_checkpoint(checkpoint: str | Path, model: str, out: str | Path | None = None, source: str = "model-garden",
                      input_size: int | None = None) -> Path:
    """Import a Model Garden RetinaNet checkpoint as a run folder (recipe.yaml, classes.txt, best/last weights).

    `eval`, `predict`, `export`, `qat`, `benchmark` and `train --init` then take the folder like any run.
    """
    import dataclasses

    from spinenet_lite.config import ModelConfig, Recipe, save_recipe
    from spinenet_lite import runs

    if source not in SOURCES:
        raise SpineNetLiteError(f"--from {source!r}: use one of {SOURCES}")
    keras_model, overrides, size, names = load_model_garden(checkpoint, model, input_size)
    run_dir = Path(out) if out else Path("runs") / f"{model}_model_garden"
    if (run_dir / runs.RECIPE_FILE).exists():
        raise SpineNetLiteError(f"{run_dir}: already holds a run; pass another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    model_cfg = ModelConfig(name=model, input_size=size, activation=overrides.get("activation", "swish"),
                            overrides={k: v for k, v in overrides.items() if k != "activation"})
    recipe = dataclasses.replace(Recipe(), model=model_cfg)
    save_recipe(recipe, run_dir / runs.RECIPE_FILE)
    runs.write_classes(run_dir, names)
    for name in (runs.LAST_WEIGHTS, runs.BEST_WEIGHTS):
        runs.save_weights_atomic(keras_model, run_dir / name)
    return run_dir
