"""AutoML: a seeded random search across algorithm families and their hyperparameters.

The families are scikit-learn's three estimators, XGBoost and the PyTorch network. Trials go
through the families in order first (so every family is tried once when the budget allows),
then pick a family at random; each trial draws its hyperparameters from its family's space
(:data:`SPACES`) as the strings a user would pass, parses them with the family's own params
class, and trains exactly as a job of that algorithm would (early stopping included).

The budget: at most ``max_trials`` trials, and no new trial starts once ``max_seconds`` have
passed (the first always runs). The best trial by the objective (its direction from
``objectives``) is the model the job saves. Every trial (family, params, metrics, seconds,
status, error) is written to ``trials.json`` in the output directory and, when tracking, as a
nested MLflow run; a failed trial is recorded with its error and the search goes on. Families
that cannot use missing values (pytorch, linear) are left out when a feature has any.

Each trial reports one line (``step=<trial>`` with the trial's best metrics); the trials' own
rounds and epochs go only to their nested MLflow runs.
"""

from __future__ import annotations

import io
import json
import math
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from workloads.training import objectives
from workloads.training.evaluation import is_better
from workloads.training.frameworks import FRAMEWORK_TRAINERS
from workloads.training.hyperparameters import as_strings, parse
from workloads.training.outcome import TrainedModel, TrainingContext
from workloads.training.params import FAMILIES as FAMILIES  # re-exported: the families searched
from workloads.training.params import PARAMS_TYPES, AutoMLParams
from workloads.training.progress import Progress, write_line
from workloads.training.reporting import MetricReporter

if TYPE_CHECKING:
    from workloads.training.data import TabularData

TRIALS_FILE = "trials.json"
"""The output file recording every trial."""

Sampler = Callable[[random.Random], dict[str, str]]


def _log_uniform(rng: random.Random, low: float, high: float) -> str:
    return repr(round(math.exp(rng.uniform(math.log(low), math.log(high))), 6))


def _uniform(rng: random.Random, low: float, high: float) -> str:
    return repr(round(rng.uniform(low, high), 4))


def _choice(rng: random.Random, values: list[str]) -> str:
    return rng.choice(values)


SPACES: dict[str, tuple[str, Sampler]] = {
    "hist_gradient_boosting": (
        "sklearn",
        lambda rng: {
            "estimator": "hist_gradient_boosting",
            "learning_rate": _log_uniform(rng, 0.02, 0.3),
            "max_leaf_nodes": _choice(rng, ["15", "31", "63"]),
            "min_samples_leaf": _choice(rng, ["5", "10", "20", "50"]),
            "l2_regularization": _choice(rng, ["0.0", "0.1", "1.0", "10.0"]),
            "max_depth": _choice(rng, ["none", "3", "6", "10"]),
        },
    ),
    "random_forest": (
        "sklearn",
        lambda rng: {
            "estimator": "random_forest",
            "n_estimators": _choice(rng, ["100", "200", "400"]),
            "max_depth": _choice(rng, ["none", "8", "16"]),
            "min_samples_leaf": _choice(rng, ["1", "2", "5", "10"]),
        },
    ),
    "linear": (
        "sklearn",
        lambda rng: {"estimator": "linear", "alpha": _log_uniform(rng, 1e-3, 1e2)},
    ),
    "xgboost": (
        "xgboost",
        lambda rng: {
            "learning_rate": _log_uniform(rng, 0.02, 0.3),
            "max_depth": str(rng.randint(2, 10)),
            "min_child_weight": _log_uniform(rng, 0.5, 10.0),
            "subsample": _uniform(rng, 0.6, 1.0),
            "colsample_bytree": _uniform(rng, 0.5, 1.0),
            "reg_lambda": _log_uniform(rng, 0.1, 10.0),
        },
    ),
    "pytorch": (
        "pytorch",
        lambda rng: {
            "hidden_sizes": _choice(rng, ["32", "64,32", "128,64", "256,128,64"]),
            "dropout": _uniform(rng, 0.0, 0.3),
            "learning_rate": _log_uniform(rng, 3e-4, 3e-3),
            "weight_decay": _choice(rng, ["0.0", "1e-05", "0.0001"]),
            "batch_size": _choice(rng, ["64", "128", "256"]),
        },
    ),
}
"""Each family's algorithm and the sampler of its hyperparameters (as strings), for every one of
``params.FAMILIES`` in its order."""
_NEED_COMPLETE_DATA = ("linear", "pytorch")


@dataclass
class Trial:
    """One trial of the search, as recorded in ``trials.json``."""

    trial: int
    """The 1-based trial number."""
    family: str
    """The family (e.g. ``xgboost``, ``random_forest``)."""
    algorithm: str
    """The algorithm that trained it."""
    params: dict[str, str]
    """Every hyperparameter of the trial, defaults included."""
    status: str = "failed"
    """``ok``, ``failed`` or ``interrupted``."""
    metrics: dict[str, float] | None = None
    """The trial's best metrics (None when it failed)."""
    seconds: float = 0.0
    """How long the trial took."""
    error: str | None = None
    """Why the trial failed."""


class _Discard(io.TextIOBase):
    """A text stream that drops everything: the trials' per-step lines stay out of the log."""

    def write(self, text: str) -> int:
        return len(text)


def _plan(rng: random.Random, families: list[str], number: int) -> str:
    """The family of trial ``number`` (1-based): each family once in order, then at random."""
    if number <= len(families):
        return families[number - 1]
    return rng.choice(families)


def _trial_params(family: str, rng: random.Random, objective: str, task: str, seed: int) -> Any:
    algorithm, sampler = SPACES[family]
    raw = sampler(rng)
    raw["seed"] = str(seed)
    if algorithm == "pytorch":
        raw["objective"] = objective
    return parse(raw, PARAMS_TYPES[algorithm], source=f"automl {family}", context={"task": task})


def run_automl(data: TabularData, params: AutoMLParams, context: TrainingContext) -> TrainedModel:
    """Search the families within the budget; returns the best trial's trained model."""
    task, objective = data.task, context.objective
    rng = random.Random(params.seed)
    families = list(params.families)
    if data.missing_columns():
        left_out = [family for family in families if family in _NEED_COMPLETE_DATA]
        families = [family for family in families if family not in _NEED_COMPLETE_DATA]
        if left_out:
            print(
                f"automl: leaving out {', '.join(left_out)}: some features have missing values",
                file=sys.stderr,
            )
        if not families:
            raise ValueError(
                "automl: no family left that can use missing values; add xgboost, "
                "hist_gradient_boosting or random_forest to families"
            )
    trials: list[Trial] = []
    best: TrainedModel | None = None
    best_trial: Trial | None = None
    started = time.monotonic()
    progress = Progress(params.max_trials, "trials") if context.show_progress else None
    interrupted = False
    try:
        for number in range(1, params.max_trials + 1):
            # The first trial always runs: a search that ends with no model helps nobody.
            if number > 1 and time.monotonic() - started >= params.max_seconds:
                spent = f"time budget of {params.max_seconds:g} s spent"
                write_line(f"automl: {spent} after {len(trials)} trials")
                if progress is not None:
                    progress.stop_early(spent)
                break
            if context.stop is not None and context.stop.requested:
                interrupted = True
                break
            family = _plan(rng, families, number)
            trained, trial = _run_trial(number, family, rng, data, params, context)
            trials.append(trial)
            if trial.status == "interrupted":
                interrupted = True
                break
            if trained is not None and trial.metrics is not None:
                value = trial.metrics[objective]
                current = None if best_trial is None else best_trial.metrics[objective]  # type: ignore[index]
                if best_trial is None or is_better(task, objective, value, current):
                    best, best_trial = trained, trial
                if context.reporter is not None:
                    context.reporter.report(trial.metrics, step=number)
            if progress is not None:
                shown = (
                    best_trial.metrics[objective] if best_trial and best_trial.metrics else math.nan
                )
                progress.advance(1, best=shown, last=family)
    finally:
        if progress is not None:
            progress.close()
        _write_trials(trials, best_trial, objective, task, context)
    if interrupted:
        return TrainedModel(
            framework="",
            model=None,
            metrics={},
            framework_version="",
            interrupted=True,
            steps_run=len(trials),
        )
    if best is None or best_trial is None:
        first = next((trial.error for trial in trials if trial.error), "no trial ran")
        raise ValueError(f"automl: every trial failed; the first: {first}")
    print(
        f"automl: best of {len(trials)} trials is trial {best_trial.trial} "
        f"({best_trial.family}, {objective}={best_trial.metrics[objective]:.6g})",  # type: ignore[index]
        file=sys.stderr,
    )
    best.best_step = best_trial.trial
    best.steps_run = len(trials)
    best.params = {"family": best_trial.family, **best_trial.params}
    return best


def _run_trial(
    number: int,
    family: str,
    rng: random.Random,
    data: TabularData,
    params: AutoMLParams,
    context: TrainingContext,
) -> tuple[TrainedModel | None, Trial]:
    algorithm = SPACES[family][0]
    tracker = None
    if context.tracker is not None:
        tracker = context.tracker.child(
            f"trial-{number}-{family}", tags={"ml_platform.family": family}
        )
    trial = Trial(trial=number, family=family, algorithm=algorithm, params={})
    clock = time.monotonic()
    trained = None
    try:
        trial_params = _trial_params(family, rng, context.objective, data.task, params.seed)
        trial.params = as_strings(trial_params)
        if tracker is not None:
            tracker.log_params({"family": family, **trial.params})
        trial_context = replace(
            context,
            checkpoint_dir=None,  # trials are short; a restarted search starts over
            reporter=MetricReporter(_Discard(), tracker),
            show_progress=False,
            tracker=tracker,
        )
        trained = FRAMEWORK_TRAINERS[algorithm]()(data, trial_params, trial_context)
        if trained.interrupted:
            trial.status = "interrupted"
            trained = None
        else:
            trial.status = "ok"
            trial.metrics = dict(trained.metrics)
            if tracker is not None:
                tracker.log_metrics(trial.metrics)
    except Exception as error:  # a failed trial is recorded; the search goes on
        trial.status = "failed"
        trial.error = f"{type(error).__name__}: {error}"
        write_line(f"automl: trial {number} ({family}) failed: {trial.error}")
        write_line(traceback.format_exc().rstrip())
        trained = None
    trial.seconds = round(time.monotonic() - clock, 3)
    if tracker is not None:
        status = {"ok": "FINISHED", "interrupted": "KILLED"}.get(trial.status, "FAILED")
        tracker.finish(status)
    return trained, trial


def _write_trials(
    trials: list[Trial],
    best: Trial | None,
    objective: str,
    task: str,
    context: TrainingContext,
) -> None:
    if context.output_dir is None:
        return
    context.output_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "objective": objective,
        "direction": objectives.direction(task, objective),
        "best_trial": best.trial if best is not None else None,
        "trials": [vars(trial) for trial in trials],
    }
    path = context.output_dir / TRIALS_FILE
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=float) + "\n")
