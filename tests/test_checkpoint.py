"""load_trained: round trip of a run folder, clear errors for missing, corrupt and other-model weights."""
import numpy as np
import pytest

from spinenet_lite import runs
from spinenet_lite.config import load_recipe, save_recipe
from spinenet_lite.errors import SpineNetLiteError

CLASSES = ("cat", "dog", "bird")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder as `train` writes it: recipe.yaml, classes.txt, best/last weights."""
    run = tmp_path_factory.mktemp("run")
    recipe = load_recipe("quickstart", ["model.input_size=64"])
    save_recipe(recipe, run / runs.RECIPE_FILE)
    runs.write_classes(run, CLASSES)
    model = runs.build_model(recipe, len(CLASSES))
    runs.save_weights_atomic(model, run / runs.BEST_WEIGHTS)
    runs.save_weights_atomic(model, run / runs.LAST_WEIGHTS)
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    return run, x, model(x, training=False)["class_logits"].numpy()


def test_round_trip_from_folder_and_file(run_dir):
    run, x, expected = run_dir
    for source in (run, run / runs.LAST_WEIGHTS):
        trained = runs.load_trained(source)
        assert trained.class_names == CLASSES
        assert trained.recipe.model.input_size == 64
        np.testing.assert_allclose(trained.model(x, training=False)["class_logits"].numpy(), expected, atol=1e-5)
    assert runs.load_trained(run).path.name == runs.BEST_WEIGHTS
    assert not list(run.glob(".*tmp*"))  # atomic writes leave no temporaries


def test_missing(tmp_path):
    with pytest.raises(SpineNetLiteError, match="no such run folder"):
        runs.load_trained(tmp_path / "nope")
    with pytest.raises(SpineNetLiteError, match="no best.weights.h5 or last.weights.h5"):
        runs.load_trained(tmp_path)


def test_corrupt_weights(run_dir, tmp_path):
    run = run_dir[0]
    bad = tmp_path / "run"
    bad.mkdir()
    for name in (runs.RECIPE_FILE, runs.CLASSES_FILE):
        (bad / name).write_text((run / name).read_text())
    data = (run / runs.BEST_WEIGHTS).read_bytes()
    (bad / runs.BEST_WEIGHTS).write_bytes(data[: len(data) // 3])
    with pytest.raises(SpineNetLiteError, match="corrupt"):
        runs.load_trained(bad)


def test_weights_of_another_model(run_dir, tmp_path):
    run = run_dir[0]
    other = tmp_path / "other"
    other.mkdir()
    (other / runs.RECIPE_FILE).write_text((run / runs.RECIPE_FILE).read_text())
    runs.write_classes(other, CLASSES + ("fish",))  # a different head: 4 classes
    (other / runs.BEST_WEIGHTS).write_bytes((run / runs.BEST_WEIGHTS).read_bytes())
    with pytest.raises(SpineNetLiteError, match="do not fit"):
        runs.load_trained(other)
