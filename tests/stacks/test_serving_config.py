"""Serving config: SageMaker's limits and the platform's rules, each with its exact message."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from stacks.config import ConfigError, load_platform_config
from tests.conftest import ROOT, stack_config, with_section
from tests.stacks.samples import without_retraining

DEV = stack_config("dev")
PROD = stack_config("prod")


def variant(name: str = "blue", **overrides: Any) -> dict[str, Any]:
    """A valid instance-based variant on the prebuilt scikit-learn container."""
    return {
        "name": name,
        "framework": "sklearn",
        "model_artifact": f"churn/{name}/model.tar.gz",
        "instance_type": "ml.m5.large",
        "initial_instance_count": 1,
        **overrides,
    }


def serving(*variants: dict[str, Any], **endpoint: Any) -> dict[str, Any]:
    """A serving section with one endpoint holding ``variants``."""
    return {"endpoints": [{"name": "churn", "variants": list(variants), **endpoint}]}


def problems_of(
    section: dict[str, Any], flat: dict[str, str] = DEV, stack: str = "dev"
) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_platform_config(stack, with_section(flat, "serving", section))
    return raised.value.problems


def test_stack_files_declare_endpoints_with_two_weighted_variants() -> None:
    # given the dev and prod stack files / when loaded / then each has a two-variant endpoint
    for stack, flat in (("dev", DEV), ("prod", PROD)):
        config = load_platform_config(stack, flat)
        churn = config.serving.endpoints[0]
        assert [v.name for v in churn.variants] == ["blue", "green"], stack
        assert [v.weight for v in churn.variants] == [90, 10], stack


def test_eleven_variants_exceed_the_service_limit() -> None:
    # given 11 variants / then the SageMaker limit is named with the count
    section = serving(*(variant(f"v{index}") for index in range(11)))
    assert problems_of(section) == [
        "serving.endpoints[0].variants: at most 10 variants per endpoint (a SageMaker limit), got 11"
    ]


def test_duplicate_variant_names_are_refused() -> None:
    assert problems_of(serving(variant("blue"), variant("blue"))) == [
        "serving.endpoints[0].variants: variant names must be unique: blue repeated"
    ]


def test_all_zero_weights_are_refused() -> None:
    section = serving(variant("blue", weight=0), variant("green", weight=0))
    assert problems_of(section) == [
        "serving.endpoints[0].variants: weights must have a positive sum (a variant's share is weight / sum)"
    ]


def test_negative_weight_and_zero_count_are_refused() -> None:
    section = serving(variant("blue", weight=-1, initial_instance_count=0))
    assert problems_of(section) == [
        "serving.endpoints[0].variants[0].initial_instance_count: must be >= 1",
        "serving.endpoints[0].variants[0].weight: must be >= 0",
    ]


def test_no_autoscaling_on_burstable_instances() -> None:
    section = serving(
        variant("blue", instance_type="ml.t2.medium", autoscaling={"max_capacity": 4})
    )
    assert problems_of(section) == [
        "serving.endpoints[0].variants[0].autoscaling: not available on burstable instance type ml.t2.medium (SageMaker does not autoscale ml.t* variants)"
    ]


def test_one_instance_per_variant_is_refused_in_production() -> None:
    # given the prod stack with one instance on the first variant
    section = serving(
        variant("blue", initial_instance_count=1), variant("green", initial_instance_count=2)
    )
    assert problems_of(section, PROD, "prod") == [
        "serving.endpoints[0].variants[0].initial_instance_count: must be >= 2 in a production stack"
    ]


def test_autoscaling_minimum_is_the_initial_count_and_maximum_covers_it() -> None:
    section = serving(
        variant(
            "blue", initial_instance_count=2, autoscaling={"min_capacity": 1, "max_capacity": 4}
        ),
        variant("green", initial_instance_count=3, autoscaling={"max_capacity": 2}),
    )
    assert problems_of(section) == [
        "serving.endpoints[0].variants[0].autoscaling: min_capacity must equal initial_instance_count (2): every endpoint update resets the variant to its initial count",
        "serving.endpoints[0].variants[1].autoscaling: max_capacity must be >= initial_instance_count (3)",
    ]


def test_a_variant_needs_exactly_one_image_source() -> None:
    both = variant("blue", image={"repository": "ml-platform/serving", "tag": "1.0.0"})
    neither = variant("green", framework=None)
    assert problems_of(serving(both, neither)) == [
        "serving.endpoints[0].variants[0].image: set either 'framework' or 'image', not both",
        "serving.endpoints[0].variants[1].image: set 'framework' (a prebuilt container) or 'image' (our own image)",
    ]


def test_own_image_tag_is_pinned() -> None:
    own = variant(
        "blue", framework=None, image={"repository": "ml-platform/serving", "tag": "latest"}
    )
    assert problems_of(serving(own)) == [
        "serving.endpoints[0].variants[0].image.tag: must not be 'latest' (pin an immutable tag)"
    ]


def test_model_artifact_is_an_archive_key_in_the_models_bucket() -> None:
    section = serving(variant("blue", model_artifact="s3://elsewhere/model.tar.gz"))
    assert problems_of(section) == [
        "serving.endpoints[0].variants[0].model_artifact: must be the key of a .tar.gz archive in the models bucket (e.g. churn/v1/model.tar.gz), without a leading '/' or '..'"
    ]


def test_serverless_rules() -> None:
    # given a serverless variant next to an instance-based one
    lone = variant("cheap", instance_type=None, serverless={"max_concurrency": 2})
    assert problems_of(serving(lone, variant("green"))) == [
        "serving.endpoints[0].variants: a serverless variant must be the endpoint's only variant (a SageMaker rule)",
    ]
    # alone, it still cannot capture data or shift traffic gradually
    assert problems_of(serving(lone)) == [
        "serving.endpoints[0].data_capture: serverless endpoints cannot capture data: set enabled to false",
        "serving.endpoints[0].rollout: CANARY traffic shifting needs instance-based variants: use ALL_AT_ONCE on a serverless endpoint",
    ]
    # and a serverless variant must not name an instance type, and has SageMaker's memory sizes
    bad = variant("cheap", serverless={"memory_size_mb": 1000, "provisioned_concurrency": 9})
    assert problems_of(serving(bad)) == [
        "serving.endpoints[0].variants[0].serverless.memory_size_mb: must be one of 1024, 2048, 3072, 4096, 5120, 6144 (SageMaker serverless memory sizes)",
        "serving.endpoints[0].variants[0].serverless.provisioned_concurrency: must be <= max_concurrency (5)",
    ]
    with_type = variant("cheap", serverless={})
    assert problems_of(
        serving(with_type, data_capture={"enabled": False}, rollout={"strategy": "ALL_AT_ONCE"})
    ) == [
        "serving.endpoints[0].variants[0].serverless: a serverless variant has no instance_type: set it to null"
    ]


def test_serverless_is_refused_in_production() -> None:
    lone = variant("cheap", instance_type=None, initial_instance_count=2, serverless={})
    section = serving(lone, data_capture={"enabled": False}, rollout={"strategy": "ALL_AT_ONCE"})
    assert problems_of(section, PROD, "prod") == [
        "serving.endpoints[0].variants[0].serverless: not allowed in a production stack (serverless variants run outside the VPC and without data capture)"
    ]


def test_shadow_variant_needs_one_production_variant_and_its_own_name() -> None:
    section = serving(variant("blue"), variant("green"), shadow_variant=variant("blue"))
    assert problems_of(section) == [
        "serving.endpoints[0].shadow_variant: needs exactly one production variant to shadow"
    ]
    assert problems_of(serving(variant("blue"), shadow_variant=variant("blue"))) == [
        "serving.endpoints[0].shadow_variant: name 'blue' is already the production variant's"
    ]


def test_endpoint_names_are_unique() -> None:
    section = {
        "endpoints": [
            {"name": "churn", "variants": [variant("blue")]},
            {"name": "churn", "variants": [variant("blue")]},
        ]
    }
    assert problems_of(section) == [
        "serving.endpoints: endpoint names must be unique: churn repeated"
    ]


def test_misspelt_nested_keys_get_a_suggestion() -> None:
    section = serving(variant("blue", wieght=2), rollout={"stratgy": "CANARY"})
    assert problems_of(section) == [
        "serving.endpoints[0].rollout.stratgy: unknown key (did you mean 'strategy'?)",
        "serving.endpoints[0].variants[0].wieght: unknown key (did you mean 'weight'?)",
    ]


def test_rollout_and_alarm_bounds() -> None:
    section = serving(
        variant("blue"),
        rollout={"strategy": "BIG_BANG", "step_percent": 0},
        alarms={"period_seconds": 45},
        data_capture={"sampling_percentage": 101},
    )
    assert problems_of(section) == [
        "serving.endpoints[0].alarms.period_seconds: must be one of 10, 30, 60 or 300",
        "serving.endpoints[0].data_capture.sampling_percentage: must be <= 100",
        "serving.endpoints[0].rollout.step_percent: must be >= 1",
        "serving.endpoints[0].rollout.strategy: must be one of 'CANARY', 'LINEAR' or 'ALL_AT_ONCE'",
    ]


def test_alarm_emails_are_checked() -> None:
    section = {"alarm_emails": ["oncall"], "endpoints": []}
    assert problems_of(section) == ["serving.alarm_emails: 'oncall' is not an email address"]


def test_the_readme_serving_example_is_valid_config() -> None:
    # given the serving example of the serving page / when validated in the prod stack
    readme = (ROOT / "docs/serving.md").read_text()
    section = readme.split("## The serving layer", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    example = yaml.safe_load(block)["ml-platform:serving"]
    # (without prod's monitors, which watch an endpoint the example does not have)
    flat = with_section(with_section(PROD, "serving", example), "monitoring", {})
    config = load_platform_config("prod", flat)
    # then it loads as written
    assert [variant.name for variant in config.serving.endpoints[0].variants] == ["blue", "green"]


# --------------------------------------------------------------------------------------------
# registered versions and framework versions
# --------------------------------------------------------------------------------------------


def registered(name: str = "green", group: str = "churn", version: Any = 1) -> dict[str, Any]:
    """A variant deploying version ``version`` of model group ``group`` (no model_artifact)."""
    entry = variant(name, framework="xgboost", model={"group": group, "version": version})
    del entry["model_artifact"]
    return entry


def test_a_variant_may_deploy_a_registered_version() -> None:
    # given dev's churn pipeline registering into group churn / when a variant names version 1
    config = load_platform_config("dev", with_section(DEV, "serving", serving(registered())))
    # then the variant has no archive and names the version
    (green,) = config.serving.endpoints[0].variants
    assert (green.model_artifact, green.model.group, green.model.version) == (None, "churn", 1)


def test_a_variant_names_exactly_one_model_source() -> None:
    both = variant("green", model={"group": "churn", "version": 1})
    neither = variant("green")
    del neither["model_artifact"]
    assert problems_of(serving(both)) == [
        "serving.endpoints[0].variants[0].model: set either 'model_artifact' or 'model', not both"
    ]
    assert problems_of(serving(neither)) == [
        "serving.endpoints[0].variants[0].model: set 'model_artifact' (an archive in the models "
        "bucket) or 'model' (a registered version: {group, version})"
    ]
    # and an explicit null archive is the same as none (not a crash in the key's check)
    null_archive = {**variant("green"), "model_artifact": None}
    assert problems_of(serving(null_archive)) == problems_of(serving(neither))


def test_version_zero_and_a_missing_version_are_refused() -> None:
    assert problems_of(serving(registered(version=0))) == [
        "serving.endpoints[0].variants[0].model.version: must be >= 1"
    ]
    missing = registered()
    del missing["model"]["version"]
    assert problems_of(serving(missing)) == [
        "serving.endpoints[0].variants[0].model.version: required"
    ]


def test_a_group_no_pipeline_registers_into_is_refused_naming_the_known_ones() -> None:
    # given a production variant and a shadow naming groups dev's pipelines do not register
    section = serving(
        registered("blue", group="fraud"), shadow_variant=registered("shadow", group="churn2")
    )
    # then each is named at its path, with the groups that exist
    known = "(known: churn)"
    assert problems_of(section) == [
        "serving.endpoints[0].shadow_variant.model.group: 'churn2' is not a model group a "
        f"training pipeline registers into {known}",
        "serving.endpoints[0].variants[0].model.group: 'fraud' is not a model group a training "
        f"pipeline registers into {known}",
    ]


def test_without_registering_pipelines_no_group_is_known() -> None:
    # given a stack whose training section registers nothing (and whose monitor retrains nothing)
    flat = with_section(without_retraining(DEV), "training", {})
    # then a registered version cannot be deployed
    assert problems_of(serving(registered()), flat) == [
        "serving.endpoints[0].variants[0].model.group: 'churn' is not a model group a training "
        "pipeline registers into (known: none)"
    ]


def test_a_recorded_framework_version_must_fit_the_container() -> None:
    # given models trained with scikit-learn 1.9.1, served on the default and on a 1.4 container
    fits = variant(framework_version="1.9.1")
    old_container = variant(framework_version="1.9.1", framework_image_tag="1.4-2-cpu-py3")
    assert load_platform_config("dev", with_section(DEV, "serving", serving(fits)))
    # then the 1.4 container is refused with both versions named
    assert problems_of(serving(old_container)) == [
        "serving.endpoints[0].variants[0].framework_version: the model was trained with "
        "scikit-learn 1.9.1 but the sklearn container 1.4-2-cpu-py3 has 1.4 (scikit-learn models "
        "need the same major.minor version): set framework_image_tag to a matching container or "
        "retrain"
    ]


def test_an_xgboost_container_may_be_newer_than_the_model() -> None:
    older_model = variant(framework="xgboost", framework_version="1.7.6")
    newer_model = variant(
        framework="xgboost", framework_version="3.2.0", framework_image_tag="1.7-1"
    )
    assert load_platform_config("dev", with_section(DEV, "serving", serving(older_model)))
    assert problems_of(serving(newer_model)) == [
        "serving.endpoints[0].variants[0].framework_version: the model was trained with XGBoost "
        "3.2.0 but the xgboost container 1.7-1 has 1.7 (XGBoost cannot load a model saved by a "
        "later major.minor version): set framework_image_tag to a matching container or retrain"
    ]


def test_a_framework_version_needs_a_framework_and_a_version_number() -> None:
    own_image = variant(image={"repository": "ml-platform/serving", "tag": "1.0.0"})
    del own_image["framework"]
    assert problems_of(serving({**own_image, "framework_version": "1.9.1"})) == [
        "serving.endpoints[0].variants[0].framework_version: only applies with 'framework'"
    ]
    assert problems_of(serving(variant(framework_version="latest"))) == [
        "serving.endpoints[0].variants[0].framework_version: must match ^\\d+\\.\\d+(\\.\\d+)?$"
    ]
