"""Promoting a registered version in moto's registry and pinning it in a copy of the dev stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.workloads.ops.conftest import IMAGE, changed_lines, dev_stack
from workloads.ops.errors import OpsError
from workloads.ops.promotion import VariantTarget, promote_version

GROUP = "mlp-dev-churn"
VERSION_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/2"


@pytest.fixture
def churn_group(sagemaker: Any) -> Any:
    """mlp-dev-churn with two pending versions, in moto."""
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    for _ in range(2):
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://models/churn.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
    return sagemaker


def status_of(sagemaker: Any) -> str:
    return str(
        sagemaker.describe_model_package(ModelPackageName=VERSION_ARN)["ModelApprovalStatus"]
    )


def test_promotion_approves_and_edits_the_one_value(churn_group: Any, tmp_path: Path) -> None:
    # given blue pinned to version 1
    path = dev_stack(tmp_path, blue="model: {group: churn, version: 1}")
    before = path.read_text()
    # when
    promotion = promote_version(
        GROUP,
        2,
        "AUC 0.91",
        VariantTarget("churn", "blue", stack_file=str(path)),
        client=churn_group,
    )
    # then
    assert status_of(churn_group) == "Approved"
    assert changed_lines(before, path.read_text()) == [
        "-            model: {group: churn, version: 1}",
        "+            model: {group: churn, version: 2}",
    ]
    assert promotion.to_dict() == {
        "model_package_group_name": GROUP,
        "version": 2,
        "model_package_arn": VERSION_ARN,
        "previous_status": "PendingManualApproval",
        "status": "Approved",
        "reason": "AUC 0.91",
        "endpoint": "churn",
        "variant": "blue",
        "stack_file": str(path),
        "stack_file_written": True,
        "config_path": "serving.endpoints[0].variants[0].model.version",
        "previous_version": 1,
        "config_command": None,
    }


def test_with_a_stack_name_the_command_is_printed_and_the_file_kept(
    churn_group: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given Pulumi.dev.yaml in the current directory
    path = dev_stack(tmp_path, blue="model: {group: churn, version: 1}")
    before = path.read_bytes()
    monkeypatch.chdir(tmp_path)
    # when
    promotion = promote_version(
        GROUP, 2, "AUC 0.91", VariantTarget("churn", "blue", stack="dev"), client=churn_group
    )
    # then
    assert status_of(churn_group) == "Approved"
    assert path.read_bytes() == before
    assert promotion.config_command == (
        "pulumi config set --stack dev --path 'serving.endpoints[0].variants[0].model.version' 2"
    )
    assert promotion.to_dict()["stack_file_written"] is False


def test_without_a_target_only_the_registry_changes(churn_group: Any) -> None:
    # given / when
    promotion = promote_version(GROUP, 2, "AUC 0.91", client=churn_group)
    # then
    assert status_of(churn_group) == "Approved"
    assert "stack_file" not in promotion.to_dict()


@pytest.mark.parametrize(
    ("group", "blue", "message"),
    [
        (
            "mlp-prod-churn",
            "model: {group: churn, version: 1}",
            "Stack file '{path}' is environment 'dev', whose groups are named mlp-dev-<group>;"
            " 'mlp-prod-churn' is not one of them",
        ),
        (
            GROUP,
            "model: {group: fraud, version: 1}",
            "Stack file '{path}': variant 'blue' of endpoint 'churn' deploys group 'fraud',"
            " not 'churn'",
        ),
        (
            GROUP,
            "model_artifact: churn/v1/model.tar.gz",
            "Stack file '{path}': variant 'blue' of endpoint 'churn' does not deploy from the"
            " model registry (it has no model: {{group, version}})",
        ),
    ],
)
def test_a_stack_that_does_not_fit_changes_nothing(
    churn_group: Any, tmp_path: Path, group: str, blue: str, message: str
) -> None:
    # given
    path = dev_stack(tmp_path, blue=blue)
    before = path.read_bytes()
    # when
    with pytest.raises(OpsError) as refused:
        promote_version(
            group, 2, "AUC 0.91", VariantTarget("churn", "blue", str(path)), client=churn_group
        )
    # then nothing was approved or written
    assert str(refused.value) == message.format(path=path)
    assert status_of(churn_group) == "PendingManualApproval"
    assert path.read_bytes() == before


def test_a_refused_approval_leaves_the_file_alone(churn_group: Any, tmp_path: Path) -> None:
    # given blue pinned to 1, and a version that does not exist
    path = dev_stack(tmp_path, blue="model: {group: churn, version: 1}")
    before = path.read_bytes()
    # when
    with pytest.raises(OpsError) as refused:
        promote_version(
            GROUP, 9, "AUC 0.91", VariantTarget("churn", "blue", str(path)), client=churn_group
        )
    # then
    assert str(refused.value) == (
        f"Cannot approve version 9 of model package group '{GROUP}': the group has no version 9"
    )
    assert path.read_bytes() == before


def test_a_target_needs_one_way_to_pin() -> None:
    # given / when / then
    with pytest.raises(ValueError, match="pass exactly one of stack_file and stack"):
        VariantTarget("churn", "blue")
