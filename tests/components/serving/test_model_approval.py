"""Variants that deploy registered versions: the Model from the package, after its approval check.

given the stack files run under the recording mock runtime / when a variant names
``model: {group, version}`` / then its Model is built from the version's model package (a valid
CreateModel container), depends on a ModelApproval check naming the endpoint, variant, group and
version, and its role reads the training outputs; and given a stubbed SageMaker / when the
check's dynamic provider creates, diffs or updates / then it checks on create and on every change
of the version, and a version that is not Approved fails the operation.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dill
import pytest
from botocore.stub import Stubber
from pulumi.dynamic.dynamic import serialize_provider

from components.serving import model_approval
from components.serving.model import REGISTERED_ARTIFACTS_PREFIX
from components.serving.model_approval import ModelApprovalProvider
from components.shared.images import PREBUILT_FRAMEWORK_TAGS, tag_version
from components.training.pipeline_definition import MODELS_PREFIX
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID
from tests.components.serving.test_endpoint import (
    MODEL,
    all_variants,
    component,
    endpoints_of,
)
from tests.conftest import Plan
from tests.service_models import operation, request_problems
from tests.workloads.ops.conftest import stubbed_sagemaker
from workloads.ops.errors import OpsError

APPROVAL = "pulumi-python:dynamic/serving:ModelApproval"


def registered_variants(stack: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(endpoint, variant) for each variant of the stack file that deploys a registered version."""
    return [
        (endpoint, variant)
        for endpoint in endpoints_of(stack)
        for variant in all_variants(endpoint)
        if "model" in variant
    ]


def test_each_stack_deploys_one_registered_version(plan: Plan) -> None:
    # dev's churn endpoint runs mlp-dev-churn v1 beside an archive; prod's fraud mlp-prod-fraud v1
    expected = {"dev": ("churn", "green", "churn"), "prod": ("fraud", "main", "fraud")}
    ((endpoint, variant),) = registered_variants(plan.run.stack)
    assert (endpoint["name"], variant["name"], variant["model"]["group"]) == expected[
        plan.run.stack
    ]
    assert variant["model"]["version"] == 1
    assert any("model_artifact" in other for other in all_variants(endpoint))


def test_the_model_is_built_from_the_package_after_its_check(plan: Plan) -> None:
    assert len(plan.of_type(APPROVAL)) == len(registered_variants(plan.run.stack))
    for endpoint, variant in registered_variants(plan.run.stack):
        parent = component(plan, endpoint)
        model_component = plan.named(f"{parent.name}-{variant['name']}")
        model = plan.named(f"{model_component.name}-model")
        check = plan.named(f"{model_component.name}-approval")
        group = f"mlp-{plan.run.stack}-{variant['model']['group']}"
        arn = (
            f"arn:aws:sagemaker:us-east-1:{MOCK_ACCOUNT_ID}:model-package/"
            f"{group}/{variant['model']['version']}"
        )
        # the Model names the package, and waits for the check (a child of the same component)
        assert model.inputs["primaryContainer"]["modelPackageName"] == arn
        assert check.urn in model.depends_on
        assert check.parent == model_component.urn
        # the check names what it checks, and the container version it compares
        framework = variant.get("framework")
        assert check.inputs == {
            "endpoint_name": parent.name,
            "variant_name": variant["name"],
            "group_name": group,
            "version": variant["model"]["version"],
            "package_arn": arn,
            "region": "us-east-1",
            **({"framework": framework} if framework else {}),
            **(
                {"serving_version": tag_version(PREBUILT_FRAMEWORK_TAGS[framework])}
                if framework
                else {}
            ),
        }
        # the mock runtime answers as a passing check
        assert check.outputs["approval_status"] == "Approved"


def test_the_package_container_is_a_valid_create_model_request(plan: Plan) -> None:
    # given each Model built from a package, as the CreateModel request the provider sends
    create_model = operation("sagemaker", "CreateModel").input_shape
    for model in plan.of_type(MODEL):
        container = model.inputs["primaryContainer"]
        if "modelPackageName" not in container:
            continue
        request = {
            "ModelName": "m",
            "ExecutionRoleArn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/r",
            "PrimaryContainer": {
                "ModelPackageName": container["modelPackageName"],
                "Environment": container["environment"],
            },
        }
        # then SageMaker's model accepts it
        assert request_problems(create_model, request) == [], model.name


def test_the_role_reads_the_training_outputs(plan: Plan) -> None:
    bucket = plan.run.exports["data"]["bucket_names"]["models"]
    for endpoint, variant in registered_variants(plan.run.stack):
        model_component = plan.named(f"{component(plan, endpoint).name}-{variant['name']}")
        policy = plan.named(f"{model_component.name}-policy")
        statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
        readable = statements["ReadModelAndCode"]["Resource"]
        assert f"arn:aws:s3:::{bucket}/{REGISTERED_ARTIFACTS_PREFIX}*" in readable
        # and nothing in SageMaker: creating the Model from the package is the deployer's call
        assert not [sid for sid, s in statements.items() if "sagemaker:" in json.dumps(s)]


def test_registered_artifacts_are_where_the_pipelines_write_models() -> None:
    assert REGISTERED_ARTIFACTS_PREFIX == MODELS_PREFIX


def test_the_plan_lists_what_each_variant_runs(plan: Plan) -> None:
    endpoints = plan.run.exports["serving"]["endpoints"]
    for endpoint, variant in registered_variants(plan.run.stack):
        full_name = f"mlp-{plan.run.stack}-{endpoint['name']}"
        assert endpoints[full_name]["variant_models"][variant["name"]] == {
            "model_group": f"mlp-{plan.run.stack}-{variant['model']['group']}",
            "model_version": 1,
        }


# --------------------------------------------------------------------------------------------
# the dynamic provider, against a stubbed SageMaker
# --------------------------------------------------------------------------------------------

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlp-dev-churn/2"


def props(version: int = 2, **changes: Any) -> dict[str, Any]:
    return {
        "endpoint_name": "mlp-dev-churn",
        "variant_name": "green",
        "group_name": "mlp-dev-churn",
        "version": version,
        "package_arn": ARN.replace("/2", f"/{version}"),
        "region": "us-east-1",
        "framework": "xgboost",
        "serving_version": "3.2",
        "approval_status": None,
        "framework_version": None,
        **changes,
    }


def described(status: str, version: int = 2) -> dict[str, Any]:
    return {
        "ModelPackageName": "mlp-dev-churn",
        "ModelPackageGroupName": "mlp-dev-churn",
        "ModelPackageVersion": version,
        "ModelPackageArn": ARN.replace("/2", f"/{version}"),
        "CreationTime": datetime(2026, 12, 1, tzinfo=UTC),
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": status,
        "InferenceSpecification": {
            "Containers": [{"Image": "img", "FrameworkVersion": "3.2.0"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    }


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Stubber]:
    """The provider's SageMaker client, every call stubbed and validated."""
    with stubbed_sagemaker(monkeypatch, tmp_path) as stubber:
        monkeypatch.setattr(model_approval, "sagemaker_client", lambda region: stubber.client)
        yield stubber


def test_create_checks_and_records_the_status(stub: Stubber) -> None:
    stub.add_response("describe_model_package", described("Approved"), {"ModelPackageName": ARN})
    created = ModelApprovalProvider().create(props())
    assert created.id == ARN
    assert created.outs["approval_status"] == "Approved"
    assert created.outs["framework_version"] == "3.2.0"


def test_a_new_version_is_checked_and_refused_unless_approved(stub: Stubber) -> None:
    provider = ModelApprovalProvider()
    # given version 2 deployed / when the stack names version 3
    assert provider.diff(ARN, props(2), props(3)).changes is True
    assert provider.diff(ARN, props(2), props(2, approval_status="Approved")).changes is False
    stub.add_response(
        "describe_model_package",
        described("PendingManualApproval", 3),
        {"ModelPackageName": ARN.replace("/2", "/3")},
    )
    # then the update fails naming the endpoint, variant, group, version and status
    with pytest.raises(OpsError) as refused:
        provider.update(ARN, props(2), props(3))
    assert str(refused.value) == (
        "Endpoint 'mlp-dev-churn', variant 'green': version 3 of model group 'mlp-dev-churn' is "
        "PendingManualApproval, not Approved: approve it, or deploy an approved version"
    )


def test_the_provider_survives_serialization() -> None:
    restored = dill.loads(base64.b64decode(serialize_provider(ModelApprovalProvider())))
    assert restored.diff(ARN, props(2), props(3)).changes is True
