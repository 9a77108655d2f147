"""Model registry config: each pipeline's model package group, with SageMaker's limits.

given a training section whose pipelines name (or share) model package groups / when the stack's
config is loaded / then names, lengths, descriptions and reader accounts are checked with exact
messages at their paths, and pipelines sharing a group must set it alike.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.training.model_registry import model_groups
from components.training.spec import TrainingConfig
from stacks.config import ConfigError, load_platform_config
from tests.conftest import stack_config, with_section
from tests.stacks.samples import pipeline, serving_from_archives, without_retraining

# Dev's monitor retrains with its pipeline churn: these tests change the pipelines.
DEV = without_retraining(stack_config("dev"))
PROD = stack_config("prod")

SHARED = "pipelines sharing a group must set the same description and readers"


def training(*pipelines: dict[str, Any]) -> TrainingConfig:
    # Served from archives: dev's registered-version variant needs the stack's churn group.
    flat = with_section(serving_from_archives(DEV), "training", {"pipelines": pipelines})
    return load_platform_config("dev", flat).training


def problems_of(*pipelines: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        training(*pipelines)
    return raised.value.problems


def test_the_stack_files_register_each_model_in_its_group() -> None:
    # given the stack files / when loaded
    dev = load_platform_config("dev", DEV).training
    prod = load_platform_config("prod", PROD).training
    # then dev's churn pipeline registers into mlp-dev-churn, read by no other account
    (churn,) = dev.pipelines
    assert churn.model_group == "churn"
    assert churn.registry.readers == ()
    assert list(model_groups("dev", dev.pipelines)) == ["churn"]
    assert model_groups("dev", dev.pipelines)["churn"].name == "mlp-dev-churn"
    # and prod's fraud pipeline into mlp-prod-fraud, read by no other account
    (fraud,) = prod.pipelines
    assert fraud.model_group == "fraud"
    assert fraud.registry.readers == ()
    assert model_groups("prod", prod.pipelines)["fraud"].name == "mlp-prod-fraud"


def test_a_pipeline_without_registry_has_no_group() -> None:
    # given a pipeline without a registry section / then it registers into no group
    config = training(pipeline())
    assert config.pipelines[0].model_group is None
    assert model_groups("dev", config.pipelines) == {}


def test_the_group_defaults_to_the_pipeline_name() -> None:
    # given an empty registry section / then the group is the pipeline's name, without a
    # description or readers
    (churn,) = training(pipeline(registry={})).pipelines
    assert churn.model_group == "churn"
    assert (churn.registry.description, churn.registry.readers) == (None, ())


def test_a_named_group_and_its_settings() -> None:
    registry = {"group": "churn-model", "description": "Churn", "readers": ["012345678901"]}
    (churn,) = training(pipeline(registry=registry)).pipelines
    (group,) = model_groups("dev", (churn,)).values()
    assert (group.name, group.settings.description, group.settings.readers) == (
        "mlp-dev-churn-model",
        "Churn",
        ("012345678901",),
    )


@pytest.mark.parametrize("group", ["Churn", "churn_v2", "churn-", "-churn", "", "churn.v2"])
def test_group_names_follow_sagemaker_s_pattern_in_lower_case(group: str) -> None:
    assert problems_of(pipeline(registry={"group": group})) == [
        "training.pipelines[0].registry.group: must match ^[a-z0-9](-*[a-z0-9])*$"
    ]


def test_group_names_with_hyphen_runs_are_sagemaker_names() -> None:
    (churn,) = training(pipeline(registry={"group": "churn--v2"})).pipelines
    assert churn.model_group == "churn--v2"


def test_the_full_group_name_fits_sagemaker_s_63_characters() -> None:
    # given groups making mlp-dev-<group> of exactly 63, then 64 characters
    at_limit = "g" * 55
    (churn,) = training(pipeline(registry={"group": at_limit})).pipelines
    assert model_groups("dev", (churn,))[at_limit].name == f"mlp-dev-{at_limit}"
    too_long = "g" * 56
    # then only the longer one is refused, naming the name it makes
    assert problems_of(pipeline(registry={"group": too_long})) == [
        f"training.pipelines[0].registry.group: makes the model package group name "
        f"'mlp-dev-{too_long}', 64 characters; AWS allows at most 63"
    ]


def test_a_default_group_fits_whenever_the_pipeline_name_does() -> None:
    # the pipeline's own name is checked against the training job's limit, also 63 characters
    # for the same mlp-<env>-<name>: the longest pipeline name makes a group name that fits
    longest = "c" * 42
    (churn,) = training(pipeline(longest, registry={})).pipelines
    assert len(model_groups("dev", (churn,))[longest].name) <= 63


def test_descriptions_within_sagemaker_s_limits() -> None:
    assert problems_of(
        pipeline("pa", registry={"description": ""}),
        pipeline("pb", registry={"description": "x" * 1025}),
        pipeline("pc", registry={"description": "line\nbreak"}),
    ) == [
        "training.pipelines[0].registry.description: must not be empty",
        "training.pipelines[1].registry.description: must be at most 1024 characters",
        "training.pipelines[2].registry.description: must not hold control or other "
        "unprintable characters",
    ]
    # and every printable character (letters, marks, spaces, symbols, numbers, punctuation) is
    # accepted, up to 1,024 of them
    text = "Churn — ünïcode, 100% (v2) €" + "x" * 996
    (churn,) = training(pipeline(registry={"description": text})).pipelines
    assert churn.registry.description == text


def test_readers_are_unique_twelve_digit_account_ids_as_text() -> None:
    assert problems_of(
        pipeline("pa", registry={"readers": ["12345678901"]}),
        pipeline("pb", registry={"readers": ["123456789012", "123456789012"]}),
        pipeline("pc", registry={"readers": [123456789012]}),
        pipeline("pd", registry={"readers": [f"{n:012d}" for n in range(101)]}),
        pipeline("pe", registry={"readers": "123456789012"}),
    ) == [
        r"training.pipelines[0].registry.readers[0]: must match ^\d{12}$",
        "training.pipelines[1].registry.readers: reader accounts must be unique: "
        "123456789012 repeated",
        "training.pipelines[2].registry.readers[0]: must be a string",
        "training.pipelines[3].registry.readers: at most 100 accounts, got 101",
        "training.pipelines[4].registry.readers: must be a list",
    ]


def test_unknown_registry_keys_are_refused() -> None:
    assert problems_of(pipeline(registry={"groups": "churn"})) == [
        "training.pipelines[0].registry.groups: unknown key (did you mean 'group'?)"
    ]


# --------------------------------------------------------------------------------------------
# one group per model: shared groups
# --------------------------------------------------------------------------------------------


def test_pipelines_of_one_model_share_its_group_once() -> None:
    # given a CPU and a GPU pipeline of the same model, setting the group alike (readers in
    # another order)
    registry = {"description": "Churn", "readers": ["123456789012", "210987654321"]}
    config = training(
        pipeline("churn", registry=registry),
        pipeline(
            "churn-gpu",
            registry={**registry, "group": "churn", "readers": registry["readers"][::-1]},
        ),
        pipeline("fraud", registry={}),
    )
    # then there is one group per model, in pipeline order
    groups = model_groups("dev", config.pipelines)
    assert [(short, group.name) for short, group in groups.items()] == [
        ("churn", "mlp-dev-churn"),
        ("fraud", "mlp-dev-fraud"),
    ]
    assert groups["churn"].settings.readers == ("123456789012", "210987654321")


def test_pipelines_sharing_a_group_must_set_it_alike() -> None:
    # given three pipelines naming group churn: the first's settings, another description,
    # other readers, and both different
    first = {"description": "Churn", "readers": ["123456789012"]}
    problems = problems_of(
        pipeline("churn", registry=first),
        pipeline("churn-a", registry={**first, "group": "churn", "description": "Other"}),
        pipeline("churn-b", registry={**first, "group": "churn", "readers": []}),
        pipeline("churn-c", registry={"group": "churn"}),
        pipeline("churn-d", registry={**first, "group": "churn"}),
    )
    # then each differing one is named at its registry, against the first, with what differs
    assert problems == [
        "training.pipelines[1].registry: model group 'churn' is also pipelines[0]'s, whose "
        f"description differs ({SHARED})",
        "training.pipelines[2].registry: model group 'churn' is also pipelines[0]'s, whose "
        f"readers differ ({SHARED})",
        "training.pipelines[3].registry: model group 'churn' is also pipelines[0]'s, whose "
        f"description and readers differ ({SHARED})",
    ]


def test_a_default_group_conflicts_with_a_named_one_of_the_same_name() -> None:
    # given pipeline churn (its group defaults to churn) and another naming group churn
    problems = problems_of(
        pipeline("churn", registry={"description": "Churn"}),
        pipeline("churn-gpu", registry={"group": "churn"}),
    )
    assert problems == [
        "training.pipelines[1].registry: model group 'churn' is also pipelines[0]'s, whose "
        f"description differs ({SHARED})"
    ]
