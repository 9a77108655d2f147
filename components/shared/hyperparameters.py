"""Hyperparameters as the specs take them, for SageMaker pipelines and Kubernetes jobs alike.

Values are checked against each algorithm's table (:mod:`components.shared.hyperparameter_tables`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
)

from components.shared import hyperparameter_tables
from components.shared.hyperparameter_tables import as_hyperparameter
from components.shared.spec_rules import PathProblems, kind_of

#: What the training entrypoint trains: one algorithm, or AutoML across all of them.
Algorithm = Literal["sklearn", "xgboost", "pytorch", "automl"]


#: The only algorithm that trains on more than one instance (DDP through torchrun).
DISTRIBUTED_ALGORITHMS = ("pytorch",)


HYPERPARAMETER_NAME = r"^[a-z][a-z0-9_]{0,62}$"


#: The longest hyperparameter value SageMaker passes (CreateTrainingJob ``HyperParameters``; the
#: limits here are botocore's sagemaker service model, which some API pages still give as 256).
MAX_HYPERPARAMETER_VALUE_LENGTH = 2500


def _scalar_hyperparameter(value: Any) -> str | int | float | bool:
    """A hyperparameter is one string, number or boolean (SageMaker passes each as a string)."""
    if isinstance(value, str | int | float):  # bool is an int
        return value
    if value is None:
        raise ValueError("must be a string, number or boolean, not null (write none for no value)")
    raise ValueError(f"must be a string, number or boolean, not {kind_of(value)}")


#: One hyperparameter value; any other YAML value is one problem at its key (a plain union
#: would report one line per member type).
HyperparameterValue = Annotated[Any, AfterValidator(_scalar_hyperparameter)]

#: A job's fixed hyperparameters as a spec takes them: lowercase names, scalar values.
Hyperparameters = dict[Annotated[str, Field(pattern=HYPERPARAMETER_NAME)], HyperparameterValue]


def hyperparameters_accepted(
    value: dict[str, str | int | float | bool], info: ValidationInfo
) -> dict[str, str | int | float | bool]:
    """Every fixed hyperparameter is one the algorithm's trainer accepts, with a value it accepts.

    Checked against the algorithm's table (stacks/hyperparameter_tables.py); skipped when the
    algorithm itself is invalid (reported at its own path).
    """
    algorithm, task = info.data.get("algorithm"), info.data.get("task")
    if algorithm is None:
        return value
    problems = hyperparameter_tables.value_problems(algorithm, task, value)
    problems += [
        (
            name,
            f"is {length} characters; SageMaker passes at most {MAX_HYPERPARAMETER_VALUE_LENGTH}",
        )
        for name, item in value.items()
        if (length := len(as_hyperparameter(item))) > MAX_HYPERPARAMETER_VALUE_LENGTH
    ]
    if problems:
        raise PathProblems(problems)
    return value
