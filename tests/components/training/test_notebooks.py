"""Notebooks over the real stack files: the notebook instance, its start-up script, and Studio.

given a stack file (or a variant of it) run under the recording mock runtime / when the notebook
resources are read / then the instance has no internet and no root, an encrypted volume, IMDSv2,
sits in the VPC, and starts with a script that points at the tracking server and stops the
instance when idle without downloading anything; and the Studio domain is VPC-only, IAM-signed,
encrypted, with home directories kept exactly in production.
"""

from __future__ import annotations

import base64
import datetime
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.training.notebooks import IDLE_STOP_PATH, encode_lifecycle_script, on_start_script
from stacks.offline.mock_runtime import RecordedResource, run_offline
from tests.conftest import Plan, stack_config, stack_file, with_section
from tests.stacks.samples import without_retraining
from workloads.notebooks import idle_stop

NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
LIFECYCLE = (
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration"
)
DOMAIN = "aws:sagemaker/domain:Domain"
USER_PROFILE = "aws:sagemaker/userProfile:UserProfile"
ROLE = "aws:iam/role:Role"
NOTEBOOKS = "mlplatform:training:Notebooks"
UTC = datetime.UTC


def training_section(stack: str) -> dict[str, Any]:
    return stack_file(stack)["ml-platform:training"]


def only(plan: Plan, type_: str) -> RecordedResource:
    (found,) = plan.layer("training").of_type(type_)
    return found


def notebook_role(plan: Plan) -> RecordedResource:
    (component,) = plan.of_type(NOTEBOOKS)
    (role,) = plan.children(component, ROLE)
    return role


def start_script(plan: Plan) -> str:
    return base64.b64decode(only(plan, LIFECYCLE).inputs["onStart"]).decode()


@pytest.fixture(scope="module")
def dev_with_studio() -> Plan:
    """The dev stack with a Studio domain added next to its notebook instance (run once)."""
    section = training_section("dev")
    section["notebooks"]["studio"] = {"user_profiles": ["carol"]}
    return Plan(
        run_offline(
            "dev", with_section(without_retraining(stack_config("dev")), "training", section)
        )
    )


# --------------------------------------------------------------------------------------------
# the notebook instance
# --------------------------------------------------------------------------------------------


def test_the_notebook_instance_is_private_encrypted_and_imdsv2_only(plans: dict[str, Plan]) -> None:
    # given dev's notebook instance
    plan = plans["dev"]
    notebook = only(plan, NOTEBOOK)
    wanted = training_section("dev")["notebooks"]["instance"]
    data = plan.run.exports["data"]
    # then it has a stable name, the configured size and platform
    assert notebook.inputs["name"] == "mlp-dev-notebook"
    assert notebook.inputs["instanceType"] == wanted["instance_type"]
    assert notebook.inputs["volumeSize"] == wanted["volume_size_gb"]
    assert notebook.inputs["platformIdentifier"] == "notebook-al2023-v1"
    # and no internet and no root; its volume is encrypted with the platform key; IMDSv2 only
    assert notebook.inputs["directInternetAccess"] == "Disabled"
    assert notebook.inputs["rootAccess"] == "Disabled"
    assert notebook.inputs["kmsKeyId"] == data["kms_key_arn"]
    assert notebook.inputs["instanceMetadataServiceConfiguration"] == {
        "minimumInstanceMetadataServiceVersion": "2"
    }
    # and it sits in a private subnet behind the workload security group
    assert notebook.inputs["subnetId"] in data["subnet_ids"]
    assert notebook.inputs["securityGroups"] == [data["workload_security_group_id"]]
    # and runs as the notebook role with its start-up script attached
    assert notebook.inputs["roleArn"] == notebook_role(plan).outputs["arn"]
    assert notebook.inputs["lifecycleConfigName"] == only(plan, LIFECYCLE).outputs["name"]


def test_the_start_up_script_sets_the_tracking_server_and_the_idle_stop(
    plans: dict[str, Plan],
) -> None:
    # given dev's start-up script
    plan = plans["dev"]
    script = start_script(plan)
    server = plan.run.exports["training"]["tracking_server_arn"]
    minutes = training_section("dev")["notebooks"]["instance"]["idle_stop_minutes"]
    # then every terminal and kernel gets the tracking server as MLflow's tracking URI
    assert f"export MLFLOW_TRACKING_URI={server}" in script.splitlines()
    # and cron checks every 5 minutes for the configured idle time, for this instance
    (cron,) = [line for line in script.splitlines() if line.startswith("*/5 * * * * root ")]
    assert f"--idle-minutes {minutes}" in cron
    assert "--notebook-name mlp-dev-notebook --region us-east-1" in cron
    # and the idle-stop program is written from the repository's file, verbatim
    program = idle_stop.__file__
    assert Path(program).read_text().rstrip("\n") in script
    assert f"cat > {IDLE_STOP_PATH} <<'IDLE_STOP'" in script


def test_the_start_up_script_downloads_nothing(plans: dict[str, Plan]) -> None:
    script = start_script(plans["dev"])
    # the instance has no internet: no URL but the local Jupyter server, no installer
    assert re.findall(r"https?://[^\s\"']+", script) == ["https://localhost:8443/api/sessions"]
    for command in ("curl", "wget", "pip install", "conda install", "yum", "dnf", "git clone"):
        assert command not in script, command


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_start_up_script_is_valid_bash_and_its_program_valid_python(
    plans: dict[str, Plan],
) -> None:
    script = start_script(plans["dev"])
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    program = script.split("<<'IDLE_STOP'\n", 1)[1].split("\nIDLE_STOP\n", 1)[0]
    compile(program, IDLE_STOP_PATH, "exec")


def test_without_idle_stop_or_tracking_the_script_only_sets_the_region() -> None:
    script = on_start_script(
        notebook_name="mlp-x-notebook",
        region="eu-west-1",
        tracking_server_arn=None,
        idle_stop_minutes=None,
        idle_stop_program="",
    )
    assert "export AWS_DEFAULT_REGION=eu-west-1" in script
    assert "MLFLOW_TRACKING_URI" not in script
    assert "cron" not in script


def test_a_start_up_script_longer_than_sagemaker_allows_is_refused() -> None:
    # given a script of 13 KB (over 16384 characters in base64)
    script = "#!/bin/bash\n" + "# padding\n" * 1300
    # then it is refused before any deploy, with the limit
    with pytest.raises(ValueError, match=r"characters in base64; SageMaker allows 16384"):
        encode_lifecycle_script(script)
    assert base64.b64decode(encode_lifecycle_script("#!/bin/bash\n")) == b"#!/bin/bash\n"


# --------------------------------------------------------------------------------------------
# Studio
# --------------------------------------------------------------------------------------------


def check_domain(plan: Plan, retention: str) -> None:
    domain = only(plan, DOMAIN)
    data = plan.run.exports["data"]
    role = notebook_role(plan).outputs["arn"]
    assert domain.inputs["domainName"] == f"mlp-{plan.run.stack}-studio"
    assert domain.inputs["authMode"] == "IAM"
    assert domain.inputs["appNetworkAccessType"] == "VpcOnly"
    assert domain.inputs["vpcId"] == data["vpc_id"]
    assert domain.inputs["subnetIds"] == data["subnet_ids"]
    assert domain.inputs["kmsKeyId"] == data["kms_key_arn"]
    for settings in ("defaultUserSettings", "defaultSpaceSettings"):
        assert domain.inputs[settings]["executionRole"] == role
        assert domain.inputs[settings]["securityGroups"] == [data["workload_security_group_id"]]
    assert domain.inputs["retentionPolicy"] == {"homeEfsFileSystem": retention}


def test_prod_studio_is_vpc_only_iam_encrypted_and_keeps_home_directories(
    plans: dict[str, Plan],
) -> None:
    # given prod's Studio domain
    plan = plans["prod"]
    # then it is VPC-only with IAM sign-in, the platform key, and home directories retained
    check_domain(plan, "Retain")
    # and each configured data scientist has a profile in it
    domain = only(plan, DOMAIN)
    profiles = plan.layer("training").of_type(USER_PROFILE)
    wanted = training_section("prod")["notebooks"]["studio"]["user_profiles"]
    assert sorted(profile.inputs["userProfileName"] for profile in profiles) == sorted(wanted)
    exported = plan.run.exports["training"]["notebooks"]
    assert re.fullmatch(r"d-[0-9a-z]{12}", exported["studio_domain_id"])
    assert {profile.inputs["domainId"] for profile in profiles} == {exported["studio_domain_id"]}
    assert {profile.parent for profile in profiles} == {domain.urn}
    assert exported["studio_user_profiles"] == wanted


def test_dev_studio_deletes_home_directories_with_the_stack(dev_with_studio: Plan) -> None:
    # given dev with a Studio domain added / then it deletes its home EFS on destroy
    check_domain(dev_with_studio, "Delete")
    assert not only(dev_with_studio, DOMAIN).protect


def test_prod_has_no_notebook_instance_and_dev_no_studio(plans: dict[str, Plan]) -> None:
    assert plans["prod"].layer("training").of_type(NOTEBOOK) == []
    assert plans["dev"].layer("training").of_type(DOMAIN) == []
    assert plans["prod"].run.exports["training"]["notebooks"]["notebook_name"] is None
