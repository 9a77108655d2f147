"""Evaluation and approval config: thresholds on metrics the task reports, approval in prod.

given a training pipeline with an evaluation and a registry / when the stack's config is loaded
/ then thresholds name metrics the evaluation reports, bound them sensibly, need a registry to
gate, and a production stack refuses auto-approval unless explicitly allowed, each with its
exact message at its path.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.training.spec import TrainingConfig
from stacks.config import ConfigError, load_platform_config
from tests.conftest import stack_config, stack_file, with_section
from tests.stacks.samples import pipeline

DEV = stack_config("dev")
PROD = stack_config("prod")

REGISTRY = {"description": "Churn"}
EVALUATION = {"test_data": "churn/test/", "thresholds": {"valid_auc": {"min": 0.8}}}
PROD_APPROVAL = (
    "must not be true in a production stack (versions wait in PendingManualApproval for a "
    "person); set registry.allow_auto_approve_in_prod: true to allow it"
)


def training(stack: str, *pipelines: dict[str, Any]) -> TrainingConfig:
    flat = DEV if stack == "dev" else PROD
    section = {**stack_file(stack)["ml-platform:training"], "pipelines": list(pipelines)}
    return load_platform_config(stack, with_section(flat, "training", section)).training


def problems_of(stack: str, *pipelines: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        training(stack, *pipelines)
    return raised.value.problems


def evaluated(**evaluation: Any) -> dict[str, Any]:
    """The sample pipeline with a registry and ``evaluation`` over the default one."""
    return pipeline(registry=REGISTRY, evaluation={**EVALUATION, **evaluation})


def test_the_stack_files_gate_registration_on_test_metrics() -> None:
    # given the stack files / when loaded
    (churn,) = load_platform_config("dev", DEV).training.pipelines
    (fraud,) = load_platform_config("prod", PROD).training.pipelines
    # then dev's churn pipeline needs valid_auc >= 0.80 on churn/test/ and approves itself
    assert churn.evaluation.test_data == "churn/test/"
    assert {
        m: (t.min, t.max, t.max_regression) for m, t in churn.evaluation.thresholds.items()
    } == {"valid_auc": (0.8, None, None)}
    assert churn.registry.auto_approve is True
    assert not churn.evaluation.compares_with_approved
    # and prod's fraud pipeline bounds AUC (also against the approved version) and loss, and
    # waits for a person's approval
    assert fraud.evaluation.test_data == "fraud/test/"
    assert {
        m: (t.min, t.max, t.max_regression) for m, t in fraud.evaluation.thresholds.items()
    } == {
        "valid_auc": (0.9, None, 0.02),
        "valid_loss": (None, 0.25, None),
    }
    assert fraud.evaluation.compares_with_approved
    assert fraud.registry.auto_approve is False


def test_a_threshold_on_a_metric_the_task_does_not_produce_is_refused() -> None:
    # given a classification pipeline bounding a regression metric and the training loss
    thresholds = {"valid_rmse": {"max": 0.5}, "train_loss": {"max": 0.1}}
    # when loaded / then each is named with the metrics the classification evaluation reports
    known = "valid_loss, valid_accuracy, valid_auc, valid_f1"
    assert problems_of("dev", evaluated(thresholds=thresholds)) == [
        f"training.pipelines[0].evaluation.thresholds.train_loss: 'train_loss' is not a metric "
        f"the classification evaluation reports (known: {known})",
        f"training.pipelines[0].evaluation.thresholds.valid_rmse: 'valid_rmse' is not a metric "
        f"the classification evaluation reports (known: {known})",
    ]


def test_a_regression_pipeline_bounds_regression_metrics() -> None:
    # given a regression pipeline bounding RMSE and R2 / when loaded / then both are accepted
    config = training(
        "dev",
        pipeline(
            task="regression",
            registry=REGISTRY,
            evaluation={
                **EVALUATION,
                "thresholds": {"valid_rmse": {"max": 2.5}, "valid_r2": {"min": 0.6, "max": 1}},
            },
        ),
    )
    assert set(config.pipelines[0].evaluation.thresholds) == {"valid_rmse", "valid_r2"}


@pytest.mark.parametrize(
    ("threshold", "problem"),
    [
        ({}, "evaluation.thresholds.valid_auc: a threshold needs min, max or max_regression"),
        (
            {"min": 0.9, "max": 0.8},
            "evaluation.thresholds.valid_auc: min (0.9) must not be above max (0.8)",
        ),
        ({"above": 0.8}, "evaluation.thresholds.valid_auc.above: unknown key"),
        (
            {"max_regression": -0.1},
            "evaluation.thresholds.valid_auc.max_regression: must be >= 0.0",
        ),
    ],
)
def test_a_threshold_must_bound_something_sensibly(threshold: dict[str, Any], problem: str) -> None:
    # given a malformed bound / when loaded / then it is named at its path
    found = problems_of("dev", evaluated(thresholds={"valid_auc": threshold}))
    assert [p.removeprefix("training.pipelines[0].") for p in found] == [problem]


def test_an_evaluation_needs_thresholds_and_a_registry() -> None:
    # given an evaluation without thresholds, and one without a registry to gate
    no_thresholds = evaluated(thresholds={})
    no_registry = pipeline(name="other", evaluation=EVALUATION)
    # when loaded / then both are refused with what is missing
    assert problems_of("dev", no_thresholds, no_registry) == [
        "training.pipelines[0].evaluation.thresholds: needs 1-20 thresholds, got 0",
        "training.pipelines[1].evaluation: the evaluation gates the registration: set registry too",
    ]


def test_automl_cannot_register() -> None:
    # given an automl pipeline with a registry / when loaded / then the registry is refused
    automl = pipeline(
        algorithm="automl",
        framework=None,
        image={"repository": "ml-platform/training", "tag": "1.0.0"},
        registry=REGISTRY,
    )
    assert problems_of("dev", automl) == [
        "training.pipelines[0].registry: automl picks its framework at run time, so a registered "
        "version could not name the serving container it needs: register a pipeline of one "
        "algorithm"
    ]


def test_auto_approve_in_prod_is_refused_unless_explicitly_allowed() -> None:
    # given prod pipelines that auto-approve, one of them allowed to
    refused = pipeline(registry={**REGISTRY, "auto_approve": True})
    allowed = pipeline(
        name="other",
        registry={**REGISTRY, "auto_approve": True, "allow_auto_approve_in_prod": True},
    )
    # when loaded / then only the one without the flag is refused, at its own path
    assert problems_of("prod", refused, allowed) == [
        f"training.pipelines[0].registry.auto_approve: {PROD_APPROVAL}"
    ]
    # and dev auto-approves without any flag
    assert training("dev", refused).pipelines[0].registry.auto_approve is True
