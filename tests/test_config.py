"""Recipes: shipped recipes load and name registered models; unknown keys are errors with a suggestion."""
import math

import pytest

from spinenet_lite.config import load_recipe, recipe_from_dict
from spinenet_lite.errors import SpineNetLiteError

SHIPPED = ["49xxs", "49xs", "49s", "49", "quickstart"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recipes_load_and_name_registered_models(name):
    from spinenet_lite.models.registry import list_models

    recipe = load_recipe(name)
    assert recipe.model.name in list_models()
    assert recipe.model.input_size % 32 == 0
    assert recipe.train.batch_size > 0 and recipe.train.epochs > 0


@pytest.mark.parametrize("name,model,size", [("49xxs", "spinenet49xxs", 256), ("49xs", "spinenet49xs", 384),
                                             ("49s", "spinenet49s", 384), ("49", "spinenet49", 384)])
def test_paper_recipes_carry_the_paper_settings(name, model, size):
    r = load_recipe(name)
    assert (r.model.name, r.model.input_size) == (model, size)
    t = r.train
    assert (t.epochs, t.batch_size, t.learning_rate, t.momentum, t.warmup_steps) == (600, 256, 0.32, 0.9, 2000)
    assert t.schedule == "step" and t.stochastic_depth == 0.2 and 3e-5 <= t.weight_decay <= 4e-5
    # x0.1 at epochs 570 and 590 of 600
    assert [round(b * t.epochs) for b in t.step_boundaries] == [570, 590]
    assert (r.data.scale_min, r.data.scale_max, r.data.hflip) == (0.5, 2.0, True)


def test_unknown_key_names_it_and_suggests():
    with pytest.raises(SpineNetLiteError, match=r"unknown key 'learning_rat'.*did you mean \"learning_rate\""):
        recipe_from_dict({"train": {"learning_rat": 0.1}})
    with pytest.raises(SpineNetLiteError, match=r"unknown section 'trian'.*did you mean \"train\""):
        recipe_from_dict({"trian": {"epochs": 1}})


def test_set_overrides_are_typed_and_checked():
    r = load_recipe("quickstart", ["train.epochs=3", "model.input_size=128", "train.learning_rate=0.01"])
    assert (r.train.epochs, r.model.input_size, r.train.learning_rate) == (3, 128, 0.01)
    with pytest.raises(SpineNetLiteError, match="epochs: expected a number"):
        load_recipe("quickstart", ["train.epochs=many"])
    with pytest.raises(SpineNetLiteError, match=r"did you mean \"batch_size\""):
        load_recipe("quickstart", ["train.batchsize=4"])
    with pytest.raises(SpineNetLiteError, match="expected section.key=value"):
        load_recipe("quickstart", ["epochs=3"])


def test_mistyped_recipe_name_suggests():
    with pytest.raises(SpineNetLiteError, match=r"did you mean \"quickstart\""):
        load_recipe("quikstart")


@pytest.mark.parametrize("kind", ["cosine", "step"])
def test_schedule_warms_up_then_decays(kind):
    from spinenet_lite.config import TrainConfig
    from spinenet_lite.train.schedule import make_schedule

    cfg = TrainConfig(learning_rate=0.1, warmup_steps=10, schedule=kind, step_boundaries=(0.5, 0.8))
    lr = make_schedule(cfg, total_steps=100)
    values = [float(lr(s)) for s in range(100)]
    assert values[0] == pytest.approx(0.01) and values[9] == pytest.approx(0.1)
    assert all(a <= b + 1e-9 for a, b in zip(values[:10], values[1:11]))
    if kind == "step":
        assert values[49] == pytest.approx(0.1) and values[50] == pytest.approx(0.01) and values[80] == pytest.approx(0.001)
    else:
        assert values[55] == pytest.approx(0.05 * (1 + math.cos(math.pi * 45 / 90)))
        assert values[99] < 0.001


@pytest.mark.parametrize("kind", ["cosine", "step"])
def test_schedule_retarget_moves_the_decay_with_the_run_length(kind):
    from spinenet_lite.config import TrainConfig
    from spinenet_lite.train.schedule import make_schedule

    lr = make_schedule(TrainConfig(learning_rate=0.1, warmup_steps=10, schedule=kind, step_boundaries=(0.5, 0.8)), 100)
    lr.retarget(200)  # a time budget found room for twice the steps
    values = [float(lr(s)) for s in range(200)]
    assert values[9] == pytest.approx(0.1)  # warm-up unchanged
    if kind == "step":
        assert lr.boundaries == (100, 160)
        assert values[99] == pytest.approx(0.1) and values[100] == pytest.approx(0.01) and values[160] == pytest.approx(0.001)
    else:
        assert values[105] == pytest.approx(0.05 * (1 + math.cos(math.pi * 95 / 190)))
        assert values[199] < 0.001
    assert lr.get_config()["total_steps"] == 200


@pytest.mark.parametrize("kind", ["cosine", "step"])
def test_a_budget_shorter_than_the_warm_up_still_anneals(kind):
    """A paper recipe's 2000-step warm-up in a run a time budget cut to 100 steps: the warm-up shrinks to a
    quarter of the run, the decay follows it, and the last step's rate is annealed, not still rising."""
    from spinenet_lite.config import TrainConfig
    from spinenet_lite.train.schedule import make_schedule

    lr = make_schedule(TrainConfig(learning_rate=0.32, warmup_steps=2000, schedule=kind,
                                   step_boundaries=(0.95, 0.98333)), 277_000)
    assert lr.warmup_steps == 2000
    lr.retarget(100)
    values = [float(lr(s)) for s in range(100)]
    assert lr.warmup_steps == 25
    assert values[24] == pytest.approx(0.32) and values[0] == pytest.approx(0.32 / 25)
    assert values[-1] < 0.01 * 0.32 if kind == "cosine" else values[-1] == pytest.approx(0.32 * 0.01)
    assert "warm-up over steps 0-25 (train.warmup_steps 2000 cut to 25% of the run)" in lr.describe()
    assert lr.describe().endswith("cosine decay to 0 at step 100" if kind == "cosine" else
                                  "x0.1 at steps 95, 98, run ends at step 100")


def test_bad_schedule_and_strategy_are_errors():
    from spinenet_lite.config import TrainConfig
    from spinenet_lite.train.schedule import make_schedule
    from spinenet_lite.train.strategy import make_strategy

    with pytest.raises(SpineNetLiteError, match="train.schedule"):
        make_schedule(TrainConfig(schedule="linear"), 10)
    with pytest.raises(SpineNetLiteError, match="step_boundaries"):
        make_schedule(TrainConfig(schedule="step", step_boundaries=(570, 590)), 10)
    with pytest.raises(SpineNetLiteError, match=r"did you mean \"mirrored\""):
        make_strategy("mirored")
