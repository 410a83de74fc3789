"""The shipped recipes train as shipped: the paper recipes under their `mirrored` strategy on two replicas."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

PAPER = ("49xxs", "49xs", "49s", "49")

MIRRORED_RUN = textwrap.dedent("""
    import json, sys
    from spinenet_lite.train.strategy import split_cpu, make_strategy
    split_cpu(2)
    from spinenet_lite.config import load_recipe
    from spinenet_lite.train.trainer import train

    recipe = load_recipe({recipe!r}, {overrides!r})
    assert recipe.train.strategy == "mirrored"
    result = train(recipe, {run!r}, progress=False, max_steps={steps})
    print(json.dumps({{"steps": result.steps_done, "replicas": make_strategy("mirrored").num_replicas_in_sync}}))
""")


@pytest.mark.slow  # a two-replica run: minutes of CPU, most of it tracing the step for both replicas
def test_a_paper_recipe_trains_under_mirrored_on_two_replicas_past_the_first_summary(tmp_path):
    """The paper recipes ask for `mirrored`; the trainer must read its learning rate (a per-replica variable there)
    for the TensorBoard summary every 10 steps and for results.csv. 49xxs at 64 px with one head conv and one
    image per replica keeps the two-replica run short; the other paper recipes share its train section
    (test_paper_recipes_share_...)."""
    from spinenet_lite.train.history import read_history
    from spinenet_lite.train.trainer import SUMMARY_EVERY_STEPS

    run = tmp_path / "run"
    overrides = ["model.input_size=64", "model.overrides={head_convs: 1}", "data.format=synthetic", "data.root=",
                 "data.train=train", "data.val=val", "data.synthetic_images=20", "train.batch_size=2",
                 "train.epochs=2", "train.stochastic_depth=0.0"]
    code = MIRRORED_RUN.format(recipe="49xxs", overrides=overrides, run=str(run), steps=SUMMARY_EVERY_STEPS + 1)
    env = dict(os.environ, SPINENET_LITE_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"steps": SUMMARY_EVERY_STEPS + 1, "replicas": 2}
    rows = read_history(run / "results.csv")
    assert [r["step"] for r in rows] == [8, 11]  # 16 training images / batch 2: an epoch row, then the last step
    assert all(0.0 < r["lr"] <= 0.32 for r in rows)
    assert list((run / "tensorboard").iterdir())


def test_paper_recipes_share_the_train_section():
    """One mirrored run covers the four paper recipes: they differ only in the model."""
    from spinenet_lite.config import load_recipe

    recipes = [load_recipe(name) for name in PAPER]
    assert {r.train for r in recipes} == {recipes[0].train} and {r.data for r in recipes} == {recipes[0].data}
    assert recipes[0].train.strategy == "mirrored"
    assert [r.model.name for r in recipes] == [f"spinenet{name}" for name in PAPER]
