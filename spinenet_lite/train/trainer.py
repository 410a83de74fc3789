"""The training job: recipe in, run folder out (checkpoints, best weights, results.csv/png, TensorBoard).

A custom loop (not `fit`) so that the step count, schedule and optimizer state resume exactly from the last
complete checkpoint. Scale-out is TensorFlow's: the loop runs under the recipe's `tf.distribute` strategy.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from spinenet_lite import runs
from spinenet_lite.config import Recipe, load_recipe, save_recipe
from spinenet_lite.errors import SpineNetLiteError
from spinenet_lite.train.checkpoint import RunCheckpoint
from spinenet_lite.train.history import plot_history, read_history, write_history


@dataclass
class TrainResult:
    """What a finished (or time-boxed) run produced."""

    run_dir: Path
    epochs_done: int
    steps_done: int
    best_ap: float
    best_ap50: float
    last_metrics: dict
    seconds: float
    stopped_early: bool
    model: object = None  # the trained keras.Model as it ends (last weights), for use without reloading
    detect_fn: object = None  # the evaluations' detect function over `model` (None: nothing evaluated here)
    model_is_best: bool = False  # `model` holds the weights of best.weights.h5 (its last evaluation was the best)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare_run(recipe: Recipe | None, run_dir: Path, resume: bool, exist_ok: bool = False) -> Recipe:
    """Check the run folder and return the recipe to train with (the saved one when resuming)."""
    run_dir = Path(run_dir)
    saved = run_dir / runs.RECIPE_FILE
    if resume:
        if not saved.is_file():
            raise SpineNetLiteError(f"{run_dir}: no {runs.RECIPE_FILE}; --resume needs a run folder written by train")
        return load_recipe(str(saved))
    if recipe is None:
        raise SpineNetLiteError("train: a recipe is required unless --resume is given")
    if (run_dir / runs.CHECKPOINT_DIR).is_dir() and not exist_ok:
        raise SpineNetLiteError(f"{run_dir}: already holds a run; pass --resume to continue it or choose another --name")
    return recipe


def train(
    recipe: Recipe | None,
    run_dir: str | Path,
    resume: bool = False,
    strategy: str | None = None,
    max_minutes: float | None = None,
    progress: bool = True,
    exist_ok: bool = False,
    max_steps: int | None = None,
    model_fn=None,
) -> TrainResult:
    """Train `recipe` into `run_dir` (or continue the run there with `resume=True`).

    `strategy` and `max_minutes` override the recipe's; `max_steps` stops early (tests, throughput).
    `model_fn(recipe, num_classes)` builds the model to train instead of the recipe's fresh one (QAT passes
    its quantized copy of a trained model); it is called inside the strategy's scope.
    """
    run_dir = Path(run_dir)
    recipe = prepare_run(recipe, run_dir, resume, exist_ok)
    overrides = {}
    if strategy:
        overrides["strategy"] = strategy
    if max_minutes is not None:
        overrides["max_minutes"] = float(max_minutes)
    if overrides:
        recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, **overrides))
    if recipe.train.init and not resume:
        from spinenet_lite.train.init import init_recipe

        recipe = init_recipe(recipe, recipe.train.init)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_recipe(recipe, run_dir / runs.RECIPE_FILE)
    return _Loop(recipe, run_dir, progress, max_steps, model_fn).run()


# TensorBoard losses are written every this many steps: writing five scalars eagerly after every step halved
# training throughput (measured: spinenet49xxs@128, batch 16, 18.6 -> 31-38 img/s on 2 cores).
SUMMARY_EVERY_STEPS = 10


class _Loop:
    """State of one training job; `run()` does the epochs."""

    def __init__(self, recipe: Recipe, run_dir: Path, progress: bool, max_steps: int | None, model_fn=None):
        from spinenet_lite.anchors import generate_anchors
        from spinenet_lite.data import load_dataset
        from spinenet_lite.data.pipeline import make_dataset
        from spinenet_lite.keras import keras, tf
        from spinenet_lite.targets import assign_targets
        from spinenet_lite.train.precision import check_precision, loss_scaled, precision_policy, resolve_jit
        from spinenet_lite.train.schedule import make_schedule
        from spinenet_lite.train.step import make_train_loop
        from spinenet_lite.train.strategy import make_strategy, with_sync_batch_norm

        self.recipe, self.run_dir, self.progress, self.max_steps = recipe, run_dir, progress, max_steps
        cfg, size = recipe.train, recipe.model.input_size
        keras.utils.set_random_seed(cfg.seed)
        check_precision(cfg.precision)
        if cfg.steps_per_execution < 1:
            raise SpineNetLiteError(f"train.steps_per_execution: {cfg.steps_per_execution} must be 1 or more")
        self.strategy = make_strategy(cfg.strategy)
        self.jit_compile = resolve_jit(cfg.jit_compile, self.strategy)
        replicas = self.strategy.num_replicas_in_sync
        if cfg.batch_size % replicas:
            raise SpineNetLiteError(
                f"train.batch_size: {cfg.batch_size} does not split over {replicas} replicas; use a multiple of {replicas}"
            )
        self.train_data = load_dataset(recipe.data, "train")
        self.val_data = load_dataset(recipe.data, "val")
        if len(self.train_data) < cfg.batch_size:
            raise SpineNetLiteError(
                f"train.batch_size: {cfg.batch_size} is larger than the {len(self.train_data)} training images; "
                "for a small dataset use the `small` recipe (batch 8, lr 0.08, short warm-up), e.g. "
                "`spinenet-lite train small --set data.format=voc --set data.root=...`, or set train.batch_size"
            )
        self.class_names = tuple(self.train_data.class_names)
        runs.write_classes(run_dir, self.class_names)
        anchors = tf.constant(generate_anchors(size), tf.float32)

        def target_fn(boxes, labels):
            return assign_targets(boxes, labels, anchors)

        self.dataset = make_dataset(
            self.train_data, size, cfg.batch_size, training=True, target_fn=target_fn, seed=cfg.seed,
            data_cfg=recipe.data, cache_dir=run_dir / "image_cache", repeat=True,
        )
        # One iterator for the whole run (made at the first epoch): a fresh iterator per epoch stalled training
        # for seconds at every epoch end while the old one's parallel map and prefetch threads were torn down.
        self.iterator = None
        self.steps_per_epoch = len(self.train_data) // cfg.batch_size
        # QAT (model_fn) learns its int8 ranges on the float32 graph that export converts.
        precision = cfg.precision if model_fn is None else "float32"
        with self.strategy.scope():
            if model_fn is not None:
                self.model = model_fn(recipe, len(self.class_names))
            else:
                with precision_policy(precision):
                    self.model = runs.build_model(recipe, len(self.class_names),
                                                  stochastic_depth=cfg.stochastic_depth)
            if cfg.init and model_fn is None:
                from spinenet_lite.train.init import load_init_weights

                report = load_init_weights(self.model, self.class_names, cfg.init, cfg.init_backbone_only)
                _log(f"init from {report.source}: {report.copied} layers copied, class predictor "
                     f"{report.class_predictor}")
            if replicas > 1:
                self.model = with_sync_batch_norm(self.model)
            self.schedule = make_schedule(cfg, self.steps_per_epoch * cfg.epochs)
            self.optimizer = loss_scaled(keras.optimizers.SGD(learning_rate=self.schedule, momentum=cfg.momentum),
                                         precision)
            self.optimizer.build(self.model.trainable_variables)
            self.state = RunCheckpoint(run_dir, self.model, self.optimizer,
                                            schedule_total_steps=self.schedule.total_steps)
        loss_kwargs = dict(
            num_classes=len(self.class_names), alpha=cfg.focal_alpha, gamma=cfg.focal_gamma,
            delta=cfg.huber_delta, box_weight=cfg.box_loss_weight,
        )
        self.make_step = lambda: make_train_loop(self.strategy, self.model, self.optimizer, loss_kwargs,
                                                 cfg.weight_decay, jit_compile=self.jit_compile)
        self.step_fn = self.make_step()
        self.bn_frozen = False
        self.from_scratch = model_fn is None
        self.writer = tf.summary.create_file_writer(str(run_dir / runs.TENSORBOARD_DIR))
        self.detect = None  # the evaluation's detect function, traced at the first evaluation

    def _evaluate(self) -> dict:
        from spinenet_lite.evaluate import evaluate
        from spinenet_lite.runtimes.keras import recipe_detect_fn

        if self.detect is None:  # one tf.function for the whole run: it reads the weights as they are at each call
            self.detect = recipe_detect_fn(self.model, self.recipe)
        return evaluate(self.detect, self.val_data, self.recipe.model.input_size, batch_size=8, progress=False)

    @property
    def total_steps(self) -> int:
        """The run's last step: the schedule's length (restored on resume, re-fit by a time budget)."""
        return int(round(float(self.schedule.total_steps.numpy())))

    def _freeze_bn_if_due(self, step: int) -> None:
        """From `train.freeze_bn_epochs` epochs before the end, batch norm runs in inference mode: its moving
        statistics normalise and stop updating, its scale and offset stop training (a function of the step, so a
        resumed run freezes at the same point). The step function is rebuilt for the smaller variable list."""
        from spinenet_lite.keras import keras

        frozen_epochs = self.recipe.train.freeze_bn_epochs
        start = self.total_steps - frozen_epochs * self.steps_per_epoch
        if self.from_scratch:  # moving statistics start at 0 / 1: a fresh model trains its first epoch unfrozen
            start = max(start, self.steps_per_epoch)
        if self.bn_frozen or frozen_epochs <= 0 or step < start:
            return
        layers = [m for m in self.model.submodules if isinstance(m, keras.layers.BatchNormalization)]
        for layer in layers:
            layer.trainable = False
        self.step_fn = self.make_step()
        self.bn_frozen = True
        _log(f"batch norm frozen from step {step} ({len(layers)} layers) for the last {frozen_epochs} epochs")

    def _last_learning_rate(self, step: int) -> float:
        """The rate the optimizer applied at `step` (1-based), from the schedule: the optimizer's own
        `learning_rate` is a per-replica variable under a multi-device strategy, which `float()` cannot read."""
        return float(self.schedule(max(step - 1, 0)))

    def _fit_budget(self, step: int, seconds_left: float, seconds_per_step: float, eval_seconds: float) -> int:
        """Re-lay the decay so the run ends, annealed, when the time budget does (like Ultralytics' `time`):
        the budget, not `train.epochs`, sets the length. Returns the new last step."""
        cfg = self.recipe.train
        per_epoch = self.steps_per_epoch * seconds_per_step + eval_seconds / max(cfg.eval_every, 1)
        epochs_left = max(int((seconds_left - eval_seconds) / max(per_epoch, 1e-9)), 1)  # keep the final eval
        total = step + epochs_left * self.steps_per_epoch
        if total != self.total_steps:
            moved = abs(total - self.total_steps) >= self.steps_per_epoch
            self.schedule.retarget(total)
            if moved:
                _log(f"time budget: {epochs_left} more epochs fit in {seconds_left / 60:.1f} min; schedule now "
                     f"{self.schedule.describe()}")
        return total

    def run(self) -> TrainResult:
        from tqdm import tqdm

        cfg = self.recipe.train
        resumed = self.state.restore()
        step = int(self.state.step.numpy())
        history = [r for r in read_history(self.run_dir / runs.RESULTS_CSV) if r["step"] <= step] if resumed else []
        if resumed:
            _log(f"resumed {self.run_dir} at step {step} (epoch {int(self.state.epoch.numpy())})")
        _log(f"schedule: {self.schedule.describe()}"
             + (f"; a {cfg.max_minutes:g}-minute budget re-fits it after the second epoch" if cfg.max_minutes > 0 else ""))
        start = time.perf_counter() - float(self.state.seconds.numpy())  # the budget spans resumes
        budget = cfg.max_minutes * 60.0 if cfg.max_minutes > 0 else math.inf
        stop_at = min(self.total_steps, self.max_steps) if self.max_steps else self.total_steps
        eval_seconds = 0.0
        timed_seconds, timed_steps = 0.0, 0  # epochs after the first (no tracing), for the budget's estimate
        stopped_early, metrics, model_is_best = False, {}, False
        evaluated = [r for r in history if r["AP"] == r["AP"]]  # NaN: epoch without evaluation
        best_ap50 = max(evaluated, key=lambda r: r["AP"])["AP50"] if evaluated else -1.0
        bar = tqdm(total=stop_at, initial=step, desc="train", unit="step", file=sys.stderr, disable=not self.progress,
                   dynamic_ncols=True)
        try:
            while step < stop_at and not stopped_early:
                epoch = step // self.steps_per_epoch
                self._freeze_bn_if_due(step)
                tic = time.perf_counter()
                step, sums, count, stopped_early = self._train_epoch(step, epoch, stop_at, start, budget, bar)
                model_is_best = False
                epoch_done = step == (epoch + 1) * self.steps_per_epoch
                seconds = time.perf_counter() - tic
                if epoch_done:
                    self.state.epoch.assign(epoch + 1)
                row = self._row(epoch, epoch_done, step, sums, count, seconds)
                last = step >= stop_at or stopped_early
                evaluation_epoch = last or (epoch_done and (epoch + 1) % max(cfg.eval_every, 1) == 0)
                if evaluation_epoch:
                    eval_tic = time.perf_counter()
                    metrics = self._evaluate_epoch(step, row)
                    eval_seconds = time.perf_counter() - eval_tic
                    if metrics["AP"] > float(self.state.best_ap.numpy()):
                        self.state.best_ap.assign(metrics["AP"])
                        best_ap50 = metrics["AP50"]
                        model_is_best = True  # written by _save_epoch, as a copy of last.weights.h5
                    bar.write(f"epoch {row['epoch']:g}: loss {row['loss']:.4f}  AP {row['AP']:.2f}  AP50 {row['AP50']:.2f}",
                              file=sys.stderr)
                if math.isfinite(budget) and epoch_done and not last and epoch > 0 and not self.max_steps:
                    # The mean over all timed epochs: one epoch's time swings with load and moved the end back
                    # and forth (measured on a shared machine: 93 s and 142 s epochs in one run).
                    timed_seconds, timed_steps = timed_seconds + seconds, timed_steps + count
                    stop_at = self._fit_budget(step, budget - (time.perf_counter() - start),
                                               timed_seconds / max(timed_steps, 1), eval_seconds)
                    bar.total = stop_at
                    bar.refresh()
                self.state.seconds.assign(time.perf_counter() - start)
                history.append(row)
                self._save_epoch(history, evaluation_epoch, new_best=model_is_best)
        except KeyboardInterrupt:
            bar.close()
            saved = self.state.latest
            if saved is None:
                _log(f"interrupted at step {step}, before the first checkpoint (written at each evaluation epoch and "
                     f"the end, or every train.checkpoint_every_steps): no training is saved; spinenet-lite train "
                     f"--resume {self.run_dir} starts the run again from step 0")
            else:
                _log(f"interrupted at step {step}; the last complete checkpoint is step {saved.rsplit('-', 1)[-1]} "
                     f"in {self.run_dir / runs.CHECKPOINT_DIR}; continue with: spinenet-lite train --resume {self.run_dir}")
            raise
        bar.close()
        return TrainResult(
            run_dir=self.run_dir, epochs_done=int(self.state.epoch.numpy()), steps_done=step,
            best_ap=float(self.state.best_ap.numpy()), best_ap50=float(best_ap50), last_metrics=metrics,
            seconds=time.perf_counter() - start, stopped_early=stopped_early, model=self.model,
            detect_fn=self.detect, model_is_best=model_is_best,
        )

    def _train_epoch(self, step: int, epoch: int, stop_at: int, start: float, budget: float, bar):
        """The steps of one epoch (from `step`, which may be mid-epoch after a resume) until its end, `stop_at` or
        the time budget. Returns (step, loss sums, steps run, stopped by the budget)."""
        from spinenet_lite.keras import tf

        cfg = self.recipe.train
        sums, count, stopped_early = {"total": 0.0, "cls": 0.0, "box": 0.0}, 0, False
        if self.iterator is None:  # a resumed run starts mid-epoch: the epoch's remaining steps, then the next
            skip = step - epoch * self.steps_per_epoch
            self.iterator = iter(self.strategy.experimental_distribute_dataset(self.dataset.skip(skip)))
        iterator = self.iterator
        end = min((epoch + 1) * self.steps_per_epoch, stop_at)
        while step < end and not stopped_early:
            t0 = time.perf_counter()
            n = min(cfg.steps_per_execution, end - step)  # steps in this call, never past the epoch or the run
            before = step
            losses = {k: float(v) / n for k, v in self.step_fn(iterator, tf.constant(n, tf.int32)).items()}
            step += n
            self.state.step.assign(step)
            for k in sums:
                sums[k] += losses[k] * n
            count += n
            rate = n * cfg.batch_size / max(time.perf_counter() - t0, 1e-9)
            bar.update(n)
            bar.set_postfix(epoch=epoch + 1, loss=f"{losses['total']:.4f}", img_s=f"{rate:.1f}")
            if step // SUMMARY_EVERY_STEPS > before // SUMMARY_EVERY_STEPS:  # an eager write costs a small step
                with self.writer.as_default(step=step):
                    for k, v in losses.items():
                        tf.summary.scalar(f"loss/{k}", v)
                    tf.summary.scalar("lr", self._last_learning_rate(step))
            every = cfg.checkpoint_every_steps
            if every and step // every > before // every:
                self.state.save()
            if time.perf_counter() - start > budget:
                stopped_early = True
                _log(f"time budget of {cfg.max_minutes:g} min reached at step {step}")
        return step, sums, count, stopped_early

    def _row(self, epoch: int, epoch_done: bool, step: int, sums: dict, count: int, seconds: float) -> dict:
        """The epoch's results.csv row (AP and AP50 NaN until it is evaluated)."""
        batch_size = self.recipe.train.batch_size
        return {"epoch": epoch + 1 if epoch_done else step / self.steps_per_epoch, "step": step,
                "loss": sums["total"] / max(count, 1), "cls_loss": sums["cls"] / max(count, 1),
                "box_loss": sums["box"] / max(count, 1), "lr": self._last_learning_rate(step),
                "epoch_seconds": seconds, "images_per_second": count * batch_size / max(seconds, 1e-9),
                "AP": float("nan"), "AP50": float("nan")}

    def _evaluate_epoch(self, step: int, row: dict) -> dict:
        """Validation metrics at `step`, written into `row` and TensorBoard."""
        from spinenet_lite.keras import tf

        metrics = self._evaluate()
        row["AP"], row["AP50"] = metrics["AP"], metrics["AP50"]
        with self.writer.as_default(step=step):
            tf.summary.scalar("val/AP", metrics["AP"])
            tf.summary.scalar("val/AP50", metrics["AP50"])
        return metrics

    def _save_epoch(self, history: list[dict], evaluated: bool, new_best: bool = False) -> None:
        """results.csv after every epoch; last.weights.h5, the resumable checkpoint and results.png (seconds each)
        after an evaluated epoch and the last one; best.weights.h5 as a copy of last.weights.h5 (the same
        weights: one Keras save instead of two) before the checkpoint that records its AP; TensorBoard flushed."""
        from spinenet_lite.io import atomic_write_bytes

        write_history(self.run_dir / runs.RESULTS_CSV, history)
        if evaluated:
            runs.save_weights_atomic(self.model, self.run_dir / runs.LAST_WEIGHTS)
            if new_best:
                atomic_write_bytes(self.run_dir / runs.BEST_WEIGHTS, (self.run_dir / runs.LAST_WEIGHTS).read_bytes())
            self.state.save()
            plot_history(self.run_dir / runs.RESULTS_PNG, history)
        self.writer.flush()
