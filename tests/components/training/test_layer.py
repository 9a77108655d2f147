"""TrainingLayer over the real stack files: tracking server, exports, plan, and layer variants.

given a stack file (or a variant of it) run under the recording mock runtime / when the training
layer is read / then the MLflow server keeps its artifacts in the experiments bucket and is
reachable from the VPC and by the roles that use it, the layer exports what consumers need, the
offline plan shows the settings that matter, and parts that are not configured do not exist.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource, run_offline
from stacks.offline.plan import render
from tests.conftest import Plan, stack_config, stack_file, with_section
from tests.stacks.samples import serving_from_archives, without_retraining

TRACKING_SERVER = "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"
MLFLOW_APP = "aws:sagemaker/mlflowApp:MlflowApp"
ROLE = "aws:iam/role:Role"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
TRACKING = "mlplatform:training:ExperimentTracking"


def tracking_section(stack: str) -> dict[str, Any]:
    return stack_file(stack)["ml-platform:training"]["experiment_tracking"]


def server(plan: Plan) -> RecordedResource:
    (found,) = plan.of_type(TRACKING_SERVER)
    return found


def backend(plan: Plan) -> RecordedResource:
    """The stack's MLflow backend: its app or its tracking server (exactly one)."""
    (found,) = [*plan.of_type(MLFLOW_APP), *plan.of_type(TRACKING_SERVER)]
    return found


@pytest.fixture(scope="module")
def serverless_prod() -> Plan:
    """Prod with the default (serverless) MLflow backend instead of its sized server."""
    training = stack_file("prod")["ml-platform:training"]
    training["experiment_tracking"] = {"weekly_maintenance_window_start": "Sun:02:00"}
    return Plan(run_offline("prod", with_section(stack_config("prod"), "training", training)))


# --------------------------------------------------------------------------------------------
# the tracking backend: a serverless MLflow App (the default) or a sized tracking server
# --------------------------------------------------------------------------------------------


def test_the_tracking_backend_keeps_artifacts_in_the_experiments_bucket(plan: Plan) -> None:
    # given the stack's MLflow backend
    recorded = backend(plan)
    experiments = plan.run.exports["data"]["bucket_names"]["experiments"]
    wanted = tracking_section(plan.run.stack)
    # then it keeps artifacts under mlflow/ of the experiments bucket
    assert recorded.inputs["artifactStoreUri"] == f"s3://{experiments}/mlflow/"
    # and runs as its own role
    (component,) = plan.of_type(TRACKING)
    (role,) = plan.children(component, ROLE)
    assert recorded.inputs["roleArn"] == role.outputs["arn"]
    # and is the configured backend, with a stable name
    if wanted.get("backend", "serverless") == "server":
        assert recorded.type == TRACKING_SERVER
        assert recorded.inputs["trackingServerName"] == f"mlp-{plan.run.stack}"
        assert recorded.inputs["trackingServerSize"] == wanted["server_size"]
        assert recorded.outputs["arn"] == (
            f"arn:aws:sagemaker:us-east-1:{MOCK_ACCOUNT_ID}:mlflow-tracking-server/"
            f"mlp-{plan.run.stack}"
        )
    else:
        assert recorded.type == MLFLOW_APP
        assert recorded.inputs["name"] == f"mlp-{plan.run.stack}"
        assert recorded.inputs["modelRegistrationMode"] == "AutoModelRegistrationDisabled"
        # an app's ARN carries the id SageMaker generates (app-K53I5ZJMEUHZ), not its name
        assert re.fullmatch(
            rf"arn:aws:sagemaker:us-east-1:{MOCK_ACCOUNT_ID}:mlflow-app/app-[A-Z0-9]{{12}}",
            recorded.outputs["arn"],
        )


def test_dev_runs_serverless_mlflow_and_prod_a_sized_server(plans: dict[str, Plan]) -> None:
    assert backend(plans["dev"]).type == MLFLOW_APP
    assert backend(plans["prod"]).type == TRACKING_SERVER
    assert plans["dev"].run.exports["training"]["tracking_server_url"] is None


def test_prod_protects_the_tracking_server_that_holds_every_run(plans: dict[str, Plan]) -> None:
    assert (server(plans["prod"]).protect, server(plans["prod"]).retain_on_delete) == (True, True)
    app = backend(plans["dev"])
    assert (app.protect, app.retain_on_delete) == (False, False)
    assert server(plans["prod"]).inputs["weeklyMaintenanceWindowStart"] == "Sun:02:00"


def test_a_serverless_backend_is_protected_in_prod_and_is_the_jobs_tracking_uri(
    serverless_prod: Plan,
) -> None:
    # given prod on the serverless default
    app = backend(serverless_prod)
    app_arn = app.outputs["arn"]
    # then the app holds every run: protected and retained, patched in the configured window
    assert app.type == MLFLOW_APP
    assert (app.protect, app.retain_on_delete) == (True, True)
    assert app.inputs["weeklyMaintenanceWindowStart"] == "Sun:02:00"
    assert serverless_prod.run.exports["training"]["tracking_server_arn"] == app_arn
    # and the tracked pipeline's jobs log to the app: its ARN is their MLFLOW_TRACKING_URI
    (pipeline,) = [
        resource
        for resource in serverless_prod.layer("training").of_type("aws:sagemaker/pipeline:Pipeline")
        if resource.inputs["pipelineName"] == "mlp-prod-fraud"
    ]
    uris = set()
    for step in json.loads(pipeline.inputs["pipelineDefinition"])["Steps"]:
        request = step["Arguments"].get("TrainingJobDefinition", step["Arguments"])
        uris.add((request.get("Environment") or {}).get("MLFLOW_TRACKING_URI"))
    assert app_arn in uris
    assert uris <= {app_arn, None}


def test_the_vpc_reaches_the_tracking_server_privately(plan: Plan) -> None:
    # given the VPC's interface endpoints
    services = {
        endpoint.inputs["serviceName"]: endpoint
        for endpoint in plan.layer("data").of_type(ENDPOINT)
    }
    # then SageMaker MLflow has one, with private DNS, as have the APIs the clients call
    mlflow = services["aws.sagemaker.us-east-1.experiments"]
    assert mlflow.inputs["privateDnsEnabled"] is True
    assert mlflow.inputs["vpcEndpointType"] == "Interface"
    for api in ("sagemaker.api", "sts", "logs"):
        assert f"com.amazonaws.us-east-1.{api}" in services


# --------------------------------------------------------------------------------------------
# exports and the offline plan
# --------------------------------------------------------------------------------------------


def test_the_layer_exports_what_its_consumers_need(plan: Plan) -> None:
    # given the stack's exports
    training = plan.run.exports["training"]
    stack = plan.run.stack
    # then roles, repositories, the tracking server, the code, pipelines and notebooks
    assert set(training) == {
        "repository_urls",
        "execution_role_arn",
        "code_archive_uri",
        "tracking_server_arn",
        "tracking_server_url",
        "tracking_server_role_arn",
        "pipelines",
        "notebooks",
        "model_groups",
    }
    assert training["execution_role_arn"].startswith(f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/")
    assert training["tracking_server_arn"] == backend(plan).outputs["arn"]
    names = [p["name"] for p in stack_file(stack)["ml-platform:training"]["pipelines"]]
    assert training["pipelines"] == {
        f"mlp-{stack}-{name}": {
            "name": f"mlp-{stack}-{name}",
            "arn": f"arn:aws:sagemaker:us-east-1:{MOCK_ACCOUNT_ID}:pipeline/mlp-{stack}-{name}",
            "role_arn": training["pipelines"][f"mlp-{stack}-{name}"]["role_arn"],
            "step": "Tuning",
        }
        for name in names
    }
    notebooks = training["notebooks"]
    assert notebooks["role_arn"].startswith(f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/")
    if stack == "dev":
        assert notebooks["notebook_name"] == "mlp-dev-notebook"
        assert notebooks["notebook_url"] == "mlp-dev-notebook.notebook.us-east-1.sagemaker.aws"
    else:
        assert notebooks["studio_domain_url"].startswith("https://d-")


def test_the_plan_shows_the_training_settings(plans: dict[str, Plan]) -> None:
    # given the printed plans
    dev, prod = render(plans["dev"].run), render(plans["prod"].run)
    # then the tree holds the training layer with the settings that matter
    assert "mlplatform:training:TrainingLayer  training" in dev
    assert "name=ml-platform/training  tags=IMMUTABLE  scan_on_push=on  encryption=KMS" in dev
    assert "internet=Disabled  root=Disabled  imds=2  kms=on" in dev
    assert (
        "step=Tuning  compute=ml.m5.xlarge x1  spot=on  max_run_s=3600  max_wait_s=7200  "
        "isolation=on  volume_kms=on  tuning=Bayesian Maximize valid_auc 6 jobs/2 parallel"
    ) in dev
    assert (
        "expire_untagged_days=14  never_expire=*.*.*  keep_scratch=dev-*:100,ci-*:100"
        "  [protect, retain]"
    ) in prod
    assert "auth=IAM  network=VpcOnly  home_efs=Retain  kms=on" in prod
    assert (
        "compute=ml.g5.2xlarge x2  spot=on  max_run_s=14400  max_wait_s=28800  isolation=off  "
        "volume_kms=off  inter_container_encryption=on  tuning=Hyperband Maximize valid_auc"
    ) in prod
    # and each pipeline's gate: its evaluation job, thresholds, and register-or-fail branches
    assert "python3 -m workloads.training.evaluate)  compute=ml.m5.xlarge x1  isolation=on" in dev
    assert (
        "step=Condition:CheckThresholds(metrics.valid_auc>=0.8)  "
        "then=RegisterModel:Register(group=mlp-dev-churn approval=Approved)  "
        "else=Fail:ThresholdsNotMet"
    ) in dev
    # (prod compares with the approved version: its evaluation reads the registry, not isolated)
    assert "evaluate --baseline-group mlp-prod-fraud)  compute=ml.m5.xlarge x1  isolation=off" in (
        prod
    )
    assert (
        "step=Condition:CheckThresholds(metrics.valid_auc>=0.9, regression.valid_auc<=0.02, "
        "metrics.valid_loss<=0.25)  "
        "then=RegisterModel:Register(group=mlp-prod-fraud approval=PendingManualApproval)  "
        "else=Fail:ThresholdsNotMet"
    ) in prod


# --------------------------------------------------------------------------------------------
# what is not configured does not exist
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repositories_only() -> Plan:
    """Dev with a training section that asks for nothing but the default repositories."""
    section = {"experiment_tracking": {"enabled": False}}
    # (dev's churn endpoint then serves archives and its monitor retrains nothing: no pipeline
    # registers its group or is there to start)
    flat = serving_from_archives(without_retraining(stack_config("dev")))
    return Plan(run_offline("dev", with_section(flat, "training", section)))


def test_only_repositories_when_nothing_else_is_configured(repositories_only: Plan) -> None:
    # given no tracking, no pipelines and no notebooks
    layer = repositories_only.layer("training")
    # then the layer holds the two repositories and their lifecycle policies, nothing else
    assert sorted({resource.type for resource in layer.resources if resource.custom}) == [
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:ecr/repository:Repository",
    ]
    exported = repositories_only.run.exports["training"]
    assert exported["execution_role_arn"] is None
    assert exported["code_archive_uri"] is None
    assert exported["tracking_server_arn"] is None
    assert exported["pipelines"] == {}
    assert exported["notebooks"] is None


def test_removing_the_layer_removes_all_of_it() -> None:
    # given dev without the training layer in its list
    flat = with_section(stack_config("dev"), "layers", ["data", "serving"])
    plan = Plan(run_offline("dev", flat))
    # then nothing of the training layer is planned
    assert "training" not in plan.run.exports
    assert not [r for r in plan.resources if r.type.startswith("mlplatform:training:")]
    assert not plan.of_type(TRACKING_SERVER)
