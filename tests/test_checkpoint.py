"""load_trained: round trip of a run folder, clear errors for missing, corrupt and other-model weights."""
import numpy as np
import pytest

from spinenet_lite.config import load_recipe, save_recipe
from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.train import checkpoint as ckpt

CLASSES = ("cat", "dog", "bird")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder as `train` writes it: recipe.yaml, classes.txt, best/last weights."""
    run = tmp_path_factory.mktemp("run")
    recipe = load_recipe("quickstart", ["model.input_size=64"])
    save_recipe(recipe, run / ckpt.RECIPE_FILE)
    ckpt.write_classes(run, CLASSES)
    model = ckpt.build_model(recipe, len(CLASSES))
    ckpt.save_weights_atomic(model, run / ckpt.BEST_WEIGHTS)
    ckpt.save_weights_atomic(model, run / ckpt.LAST_WEIGHTS)
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    return run, x, model(x, training=False)["class_logits"].numpy()


def test_round_trip_from_folder_and_file(run_dir):
    run, x, expected = run_dir
    for source in (run, run / ckpt.LAST_WEIGHTS):
        trained = ckpt.load_trained(source)
        assert trained.class_names == CLASSES
        assert trained.recipe.model.input_size == 64
        np.testing.assert_allclose(trained.model(x, training=False)["class_logits"].numpy(), expected, atol=1e-5)
    assert ckpt.load_trained(run).path.name == ckpt.BEST_WEIGHTS
    assert not list(run.glob(".*tmp*"))  # atomic writes leave no temporaries


def test_missing(tmp_path):
    with pytest.raises(SpineNetLiteError, match="no such run folder"):
        ckpt.load_trained(tmp_path / "nope")
    with pytest.raises(SpineNetLiteError, match="no best.weights.h5 or last.weights.h5"):
        ckpt.load_trained(tmp_path)


def test_corrupt_weights(run_dir, tmp_path):
    run = run_dir[0]
    bad = tmp_path / "run"
    bad.mkdir()
    for name in (ckpt.RECIPE_FILE, ckpt.CLASSES_FILE):
        (bad / name).write_text((run / name).read_text())
    data = (run / ckpt.BEST_WEIGHTS).read_bytes()
    (bad / ckpt.BEST_WEIGHTS).write_bytes(data[: len(data) // 3])
    with pytest.raises(SpineNetLiteError, match="corrupt"):
        ckpt.load_trained(bad)


def test_weights_of_another_model(run_dir, tmp_path):
    run = run_dir[0]
    other = tmp_path / "other"
    other.mkdir()
    (other / ckpt.RECIPE_FILE).write_text((run / ckpt.RECIPE_FILE).read_text())
    ckpt.write_classes(other, CLASSES + ("fish",))  # a different head: 4 classes
    (other / ckpt.BEST_WEIGHTS).write_bytes((run / ckpt.BEST_WEIGHTS).read_bytes())
    with pytest.raises(SpineNetLiteError, match="do not fit"):
        ckpt.load_trained(other)
