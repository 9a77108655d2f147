"""The metrics training reports: their names, which way is better, and the line format.

One source of truth for three readers: the training code prints ``name=value`` lines, the
SageMaker tuning step's metric definitions parse those lines with :func:`metric_regex`, and the
stack's config checks a tuning objective against :data:`METRICS`. Standard library only, so the
Pulumi program can import it without any ML library.
"""

from __future__ import annotations

import math
import re

CLASSIFICATION, REGRESSION = "classification", "regression"
MAXIMIZE, MINIMIZE = "Maximize", "Minimize"

#: Every metric the training code reports, per task, with its direction. ``train_*`` metrics are
#: computed on the training split, ``valid_*`` on the validation split (what tuning optimises).
METRICS: dict[str, dict[str, str]] = {
    CLASSIFICATION: {
        "train_loss": MINIMIZE,
        "valid_loss": MINIMIZE,
        "valid_accuracy": MAXIMIZE,
        "valid_auc": MAXIMIZE,
        "valid_f1": MAXIMIZE,
    },
    REGRESSION: {
        "train_loss": MINIMIZE,
        "valid_loss": MINIMIZE,
        "valid_rmse": MINIMIZE,
        "valid_mae": MINIMIZE,
        "valid_r2": MAXIMIZE,
    },
}

#: The prefix of the metrics computed on the training split: a held-out evaluation has no such
#: split, so it reports every other metric of the task (``workloads.training.evaluate``).
TRAIN_PREFIX = "train_"


def evaluated_metrics(task: str) -> tuple[str, ...]:
    """The metrics an evaluation on held-out data reports for ``task`` (all but ``train_*``)."""
    return tuple(name for name in METRICS[task] if not name.startswith(TRAIN_PREFIX))


#: The metric early stopping, AutoML and tuning use when none is named.
DEFAULT_OBJECTIVE = {CLASSIFICATION: "valid_loss", REGRESSION: "valid_loss"}

# A float as Python prints it (repr), including nan and inf.
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"


def metric_regex(name: str) -> str:
    """The regex a SageMaker metric definition uses to read ``name`` from the job's log.

    It matches ``name=value`` at the start of a line or after whitespace, so ``valid_loss`` is
    never read out of ``xvalid_loss``; group 1 is the value.
    """
    return rf"(?:^|\s){re.escape(name)}=({_NUMBER})(?:\s|$)"


def format_metric(name: str, value: float) -> str:
    """The ``name=value`` text of one metric (``repr`` of the float: exact and parseable)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"metric name {name!r} must be lower-case letters, digits and '_'")
    number = float(value)
    return f"{name}={number!r}" if math.isfinite(number) else f"{name}={number}"


def direction(task: str, name: str) -> str:
    """``Maximize`` or ``Minimize`` for a metric of ``task``; a clear error for an unknown one."""
    try:
        return METRICS[task][name]
    except KeyError:
        known = ", ".join(METRICS.get(task, {})) or f"none (task must be one of {list(METRICS)})"
        raise ValueError(f"{name!r} is not a {task} metric (known: {known})") from None
