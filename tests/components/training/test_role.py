"""The training layer's IAM roles: least privilege, read from the recorded policies.

given a stack file run under the recording mock runtime / when the roles of the training layer and
their inline policies are read / then no role has a managed policy or a wildcard action, ``"*"``
resources appear exactly where AWS offers no resource scope, and each role reaches only what its
job needs: the training jobs their data, code, outputs, images, logs and VPC; the pipelines their
own jobs; the notebooks their buckets, the tracking server and themselves; the tracking server its
artifact prefix.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.shared.iam_policies import VPC_DESCRIBE_ACTIONS
from components.shared.resolved_platform import ResolvedPlatform
from components.training.experiment_tracking import tracking_server_policy
from components.training.notebooks import STUDIO_LIST_ACTIONS
from components.training.pipeline import pipeline_role_policy
from components.training.role import training_execution_policy
from components.training.spec import TrainingPipelineConfig
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource
from tests.conftest import Plan, stack_file

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TRAINING = "mlplatform:training:TrainingRole"
PIPELINE = "mlplatform:training:TrainingPipeline"
NOTEBOOKS = "mlplatform:training:Notebooks"
TRACKING = "mlplatform:training:ExperimentTracking"
ARN = f"arn:aws:%s:us-east-1:{MOCK_ACCOUNT_ID}"


@pytest.fixture
def plan(plan: Plan) -> Plan:
    """Each stack's plan, seen through its training layer."""
    return plan.layer("training")


def role_of(plan: Plan, component_type: str) -> RecordedResource:
    (component,) = plan.of_type(component_type)
    (role,) = plan.children(component, ROLE)
    return role


def statements_of(plan: Plan, role: RecordedResource) -> list[dict[str, Any]]:
    """Every statement of the role's inline policies."""
    return [
        statement
        for policy in plan.children(role, ROLE_POLICY)
        for statement in json.loads(policy.inputs["policy"])["Statement"]
    ]


def serverless_mlflow(plan: Plan) -> bool:
    """Whether the stack's MLflow backend is an MLflow App (its ARN says so)."""
    return ":mlflow-app/" in plan.run.exports["training"]["tracking_server_arn"]


def by_sid(plan: Plan, role: RecordedResource) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in statements_of(plan, role)}


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def unscoped_actions(plan: Plan, role: RecordedResource) -> set[str]:
    """The actions a role may take on ``"*"``."""
    return {
        action
        for statement in statements_of(plan, role)
        if "*" in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    }


def data(plan: Plan) -> dict[str, Any]:
    return plan.run.exports["data"]


def bucket_arn(plan: Plan, purpose: str) -> str:
    return data(plan)["bucket_arns"][purpose]


def every_role(plan: Plan) -> list[RecordedResource]:
    roles = plan.of_type(ROLE)
    assert len(roles) >= 4
    return roles


# --------------------------------------------------------------------------------------------
# every role
# --------------------------------------------------------------------------------------------


def test_no_managed_policies_and_no_wildcard_actions(plan: Plan) -> None:
    # given every role of the layer
    for role in every_role(plan):
        # then none carries a managed policy (AmazonSageMakerFullAccess or any other)
        assert "managedPolicyArns" not in role.inputs, role.name
        assert not plan.children(role, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        # and every action is named: no "*" and no "service:*" or "Describe*"
        statements = statements_of(plan, role)
        assert statements, role.name
        for statement in statements:
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                assert "*" not in action, (role.name, action)
                assert "FullAccess" not in json.dumps(statement)


def test_every_role_is_for_sagemaker_of_this_account_only(plan: Plan) -> None:
    for role in every_role(plan):
        (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
        assert trust["Action"] == "sts:AssumeRole"
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": MOCK_ACCOUNT_ID}


def test_statement_ids_are_unique_within_each_policy(plan: Plan) -> None:
    for policy in plan.of_type(ROLE_POLICY):
        sids = [statement["Sid"] for statement in json.loads(policy.inputs["policy"])["Statement"]]
        assert len(sids) == len(set(sids)), policy.name


def test_star_resources_only_where_aws_has_no_resource_scope(plan: Plan) -> None:
    # given each role / when the actions allowed on "*" are collected
    stack = plan.run.stack
    expected = {
        TRAINING: {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", *VPC_DESCRIBE_ACTIONS},
        TRACKING: set(),
        NOTEBOOKS: {
            # a tracking server's UI: AccessUI has no resource type (an app's UI has no such action)
            *([] if serverless_mlflow(plan) else ["sagemaker-mlflow:AccessUI"]),
            *VPC_DESCRIBE_ACTIONS,
            *(STUDIO_LIST_ACTIONS if stack == "prod" else []),
        },
    }
    # then they are exactly the actions without resource-level permissions
    for component_type, actions in expected.items():
        assert unscoped_actions(plan, role_of(plan, component_type)) == actions, component_type
    for pipeline in plan.of_type(PIPELINE):
        (role,) = plan.children(pipeline, ROLE)
        assert unscoped_actions(plan, role) == set()
    # and PutMetricData is bound to SageMaker's training namespace
    metrics = by_sid(plan, role_of(plan, TRAINING))["PublishTrainingMetrics"]
    assert metrics["Condition"] == {
        "StringLike": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs*"}
    }


# --------------------------------------------------------------------------------------------
# the training execution role
# --------------------------------------------------------------------------------------------


def test_training_jobs_read_data_and_code_and_write_models_and_checkpoints(plan: Plan) -> None:
    # given the execution role's statements
    sids = by_sid(plan, role_of(plan, TRAINING))
    code_key = plan.run.exports["training"]["code_archive_uri"].split("/", 3)[3]
    processed, models = bucket_arn(plan, "processed"), bucket_arn(plan, "models")
    experiments = bucket_arn(plan, "experiments")
    # then the training data is read-only, the code is exactly the uploaded archive
    assert sids["ReadTrainingData"]["Action"] == "s3:GetObject"
    assert sids["ReadTrainingData"]["Resource"] == f"{processed}/*"
    assert sids["ReadTrainingCode"]["Resource"] == f"{models}/{code_key}"
    assert sids["ListTrainingCode"]["Condition"] == {"StringEquals": {"s3:prefix": code_key}}
    # and models are written under training/ only, checkpoints under checkpoints/ only
    assert sids["WriteModels"]["Resource"] == f"{models}/training/*"
    assert "s3:GetObject" not in sids["WriteModels"]["Action"]
    assert sids["ReadWriteCheckpoints"]["Resource"] == f"{experiments}/checkpoints/*"
    assert sids["ListCheckpoints"]["Condition"] == {
        "StringLike": {"s3:prefix": ["checkpoints/", "checkpoints/*"]}
    }
    # and no statement touches another bucket or the whole of the models bucket
    s3_resources = {
        resource
        for statement in sids.values()
        if any(action.startswith("s3:") for action in as_list(statement["Action"]))
        for resource in as_list(statement["Resource"])
    }
    assert f"{models}/*" not in s3_resources
    others = [bucket_arn(plan, name) for name in ("raw", "capture", "monitoring", "access_logs")]
    assert not [r for r in s3_resources if any(r.startswith(other) for other in others)]


def test_training_jobs_use_the_key_only_through_s3_and_for_volumes(plan: Plan) -> None:
    sids = by_sid(plan, role_of(plan, TRAINING))
    key = data(plan)["kms_key_arn"]
    kms = [s for s in sids.values() if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    for statement in kms:
        assert statement["Resource"] == key
    assert sids["UsePlatformKeyThroughS3"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    }
    # a grant for EC2's volume encryption, where a job's volumes take the key: dev's m5 training
    # and both stacks' m5 evaluation jobs (prod trains on g5, whose NVMe storage takes none)
    volumes = sids["EncryptTrainingVolumes"]
    assert volumes["Action"] == ["kms:CreateGrant"]
    assert volumes["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_training_jobs_pull_exactly_their_images(plan: Plan) -> None:
    pull = by_sid(plan, role_of(plan, TRAINING))["PullImages"]
    expected = {
        "dev": ["arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-xgboost"],
        "prod": [f"{ARN % 'ecr'}:repository/ml-platform/training"],
    }[plan.run.stack]
    assert pull["Resource"] == expected
    assert pull["Action"] == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]


def test_training_jobs_write_only_their_log_groups(plan: Plan) -> None:
    # given both stacks' pipelines evaluate / then the role writes training and processing logs
    logs = by_sid(plan, role_of(plan, TRAINING))["WriteTrainingLogs"]
    training = f"{ARN % 'logs'}:log-group:/aws/sagemaker/TrainingJobs"
    processing = f"{ARN % 'logs'}:log-group:/aws/sagemaker/ProcessingJobs"
    assert logs["Resource"] == [
        training,
        f"{training}:log-stream:*",
        processing,
        f"{processing}:log-stream:*",
    ]


def test_training_jobs_create_interfaces_only_in_the_platform_vpc(plan: Plan) -> None:
    sids = by_sid(plan, role_of(plan, TRAINING))
    ec2 = ARN % "ec2"
    create = sids["CreateInterfacesInPlatformSubnets"]
    assert create["Resource"] == [
        f"{ec2}:network-interface/*",
        f"{ec2}:security-group/{data(plan)['workload_security_group_id']}",
        *(f"{ec2}:subnet/{subnet}" for subnet in sorted(data(plan)["subnet_ids"])),
    ]
    manage = sids["ManageInterfacesInPlatformVpc"]
    assert manage["Condition"] == {"ArnEquals": {"ec2:Vpc": f"{ec2}:vpc/{data(plan)['vpc_id']}"}}


def test_training_jobs_reach_this_tracking_server_by_named_actions(plan: Plan) -> None:
    # given the MLflow backend / when the execution role's MLflow statement is read
    server = plan.run.exports["training"]["tracking_server_arn"]
    sids = by_sid(plan, role_of(plan, TRAINING))
    mlflow = sids["UseTrackingServer"]
    # then it names this backend only, and named actions only: for an app the one action IAM
    # has for its MLflow APIs, for a server the MLflow APIs a run calls
    assert mlflow["Resource"] == server
    if serverless_mlflow(plan):
        assert mlflow["Action"] == ["sagemaker:CallMlflowAppApi"]
    else:
        assert {"sagemaker-mlflow:CreateRun", "sagemaker-mlflow:LogMetric"} <= set(mlflow["Action"])
        assert all(action.startswith("sagemaker-mlflow:") for action in mlflow["Action"])
    # and MLflow's client may upload artifacts under mlflow/ of the experiments bucket
    experiments = bucket_arn(plan, "experiments")
    assert sids["ReadWriteMlflowArtifacts"]["Resource"] == f"{experiments}/mlflow/*"


def test_training_jobs_cannot_start_jobs_or_pass_roles(plan: Plan) -> None:
    actions = {
        action
        for statement in statements_of(plan, role_of(plan, TRAINING))
        for action in as_list(statement["Action"])
    }
    assert not {a for a in actions if a.startswith(("sagemaker:Create", "iam:"))}


# --------------------------------------------------------------------------------------------
# the pipelines' roles
# --------------------------------------------------------------------------------------------


def pipeline_roles(plan: Plan) -> list[tuple[dict[str, Any], RecordedResource]]:
    pipelines = stack_file(plan.run.stack)["ml-platform:training"]["pipelines"]
    found = []
    for pipeline in pipelines:
        component = plan.named(f"mlp-{plan.run.stack}-train-{pipeline['name']}")
        (role,) = plan.children(component, ROLE)
        found.append((pipeline, role))
    assert found
    return found


def test_pipelines_create_their_own_jobs_inside_the_guardrails(plan: Plan) -> None:
    key, subnets = data(plan)["kms_key_arn"], sorted(data(plan)["subnet_ids"])
    sagemaker = ARN % "sagemaker"
    for pipeline, role in pipeline_roles(plan):
        create = by_sid(plan, role)["CreateJobsWithGuardrails"]
        # then a tuning pipeline creates tuning jobs (named by SageMaker), no training jobs
        assert create["Action"] == "sagemaker:CreateHyperParameterTuningJob"
        assert create["Resource"] == [f"{sagemaker}:hyper-parameter-tuning-job/pipelines-*"]
        # and only with the platform key, in the platform's subnets and security group
        condition = create["Condition"]
        assert condition["StringEquals"] == {"sagemaker:OutputKmsKey": key}
        assert condition["ForAllValues:StringEquals"] == {
            "sagemaker:VpcSubnets": subnets,
            "sagemaker:VpcSecurityGroupIds": [data(plan)["workload_security_group_id"]],
        }
        assert condition["Null"] == {
            "sagemaker:VpcSubnets": "false",
            "sagemaker:VpcSecurityGroupIds": "false",
        }
        # and with isolation and inter-container encryption where the job has them
        flags = condition.get("Bool", {})
        isolated = not pipeline.get("track_experiments", False)
        assert ("sagemaker:NetworkIsolation" in flags) is isolated
        several = pipeline.get("instance_count", 1) > 1
        assert ("sagemaker:InterContainerTrafficEncryption" in flags) is several


def test_pipelines_pass_only_the_execution_role_and_only_to_sagemaker(plan: Plan) -> None:
    execution_role = plan.run.exports["training"]["execution_role_arn"]
    for _, role in pipeline_roles(plan):
        passing = [
            statement
            for statement in statements_of(plan, role)
            if "iam:PassRole" in as_list(statement["Action"])
        ]
        assert passing == [
            {
                "Sid": "PassExecutionRoleToSageMaker",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": execution_role,
                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            }
        ]


# --------------------------------------------------------------------------------------------
# the notebook and tracking server roles
# --------------------------------------------------------------------------------------------


def test_notebooks_read_data_write_experiments_and_open_the_tracking_server(plan: Plan) -> None:
    sids = by_sid(plan, role_of(plan, NOTEBOOKS))
    server = plan.run.exports["training"]["tracking_server_arn"]
    assert sids["ReadProcessedData"]["Action"] == "s3:GetObject"
    assert sids["ReadProcessedData"]["Resource"] == f"{bucket_arn(plan, 'processed')}/*"
    assert sids["ReadWriteExperiments"]["Resource"] == f"{bucket_arn(plan, 'experiments')}/*"
    assert sids["UseTrackingServer"]["Resource"] == server
    assert sids["OpenTrackingServerUi"]["Resource"] == server
    if serverless_mlflow(plan):
        # an app's UI opens through its presigned URL; its API calls are CallMlflowAppApi
        assert sids["UseTrackingServer"]["Action"] == ["sagemaker:CallMlflowAppApi"]
        assert sids["OpenTrackingServerUi"]["Action"] == [
            "sagemaker:CreatePresignedMlflowAppUrl",
            "sagemaker:DescribeMlflowApp",
        ]
        assert "AccessTrackingServerUi" not in sids
    else:
        # AccessUI has no resource type, so only "*" grants it
        assert "sagemaker-mlflow:AccessUI" not in sids["UseTrackingServer"]["Action"]
        assert sids["AccessTrackingServerUi"]["Resource"] == "*"


def test_the_notebook_instance_may_stop_itself_and_nothing_else(plan: Plan) -> None:
    sids = by_sid(plan, role_of(plan, NOTEBOOKS))
    stop = sids.get("StopThisNotebookWhenIdle")
    if plan.run.stack == "dev":  # an instance with an idle stop
        assert stop["Action"] == [
            "sagemaker:DescribeNotebookInstance",
            "sagemaker:StopNotebookInstance",
        ]
        assert stop["Resource"] == f"{ARN % 'sagemaker'}:notebook-instance/mlp-dev-notebook"
    else:  # Studio only
        assert stop is None


def test_studio_apps_are_managed_in_its_own_domain_only(plans: dict[str, Plan]) -> None:
    plan = plans["prod"].layer("training")
    domain_id = plan.run.exports["training"]["notebooks"]["studio_domain_id"]
    apps = by_sid(plan, role_of(plan, NOTEBOOKS))["UseAppsAndSpacesOfThisDomain"]
    assert apps["Resource"] == [
        f"{ARN % 'sagemaker'}:{kind}/{domain_id}{suffix}"
        for kind, suffix in (("app", "/*"), ("domain", ""), ("space", "/*"), ("user-profile", "/*"))
    ]


def test_the_tracking_server_reaches_only_its_artifact_prefix(plan: Plan) -> None:
    statements = statements_of(plan, role_of(plan, TRACKING))
    experiments = bucket_arn(plan, "experiments")
    resources = {
        resource
        for statement in statements
        if statement["Sid"] != "UsePlatformKeyThroughS3"
        for resource in as_list(statement["Resource"])
    }
    assert resources == {f"{experiments}/mlflow/*", experiments}
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["mlflow/", "mlflow/*"]}}


# --------------------------------------------------------------------------------------------
# the policy builders on their own
# --------------------------------------------------------------------------------------------


def test_a_training_pipeline_role_is_scoped_to_its_own_job_names() -> None:
    # given a pipeline that trains once (no tuning), on one isolated instance
    spec = TrainingPipelineConfig.model_validate(
        {
            "name": "churn",
            "algorithm": "xgboost",
            "framework": "xgboost",
            "task": "classification",
            "target": "churned",
            "train_data": "t/",
            "validation_data": "v/",
            "instance_type": "ml.m5.xlarge",
            "spot": {"enabled": False},
        }
    )
    # when its role's policy is built (pipeline mlp-dev-churn)
    policy = json.loads(
        pipeline_role_policy(
            pipeline=spec,
            environment="dev",
            partition="aws",
            region="us-east-1",
            account_id=MOCK_ACCOUNT_ID,
            execution_role_arn=f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/training",
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
            subnet_ids=["subnet-b", "subnet-a"],
            security_group_id="sg-1",
        )
    )
    sids = {statement["Sid"]: statement for statement in policy["Statement"]}
    # then it creates, watches and stops training jobs named after the pipeline only
    jobs = [f"{ARN % 'sagemaker'}:training-job/mlp-dev-churn-*"]
    assert sids["CreateJobsWithGuardrails"]["Action"] == "sagemaker:CreateTrainingJob"
    assert sids["CreateJobsWithGuardrails"]["Resource"] == jobs
    assert sids["WatchAndStopJobs"]["Resource"] == jobs
    assert sids["TagJobs"]["Resource"] == jobs
    # and an isolated single-instance job keeps its isolation, with sorted subnets
    condition = sids["CreateJobsWithGuardrails"]["Condition"]
    assert condition["Bool"] == {"sagemaker:NetworkIsolation": "true"}
    assert condition["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"] == [
        "subnet-a",
        "subnet-b",
    ]


def bare_execution_policy() -> dict[str, Any]:
    """The execution role's policy for pipelines that neither track, evaluate nor encrypt volumes."""
    return json.loads(
        training_execution_policy(
            ResolvedPlatform(
                partition="aws",
                region="us-east-1",
                account_id=MOCK_ACCOUNT_ID,
                kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
                vpc_id="vpc-1",
                subnet_ids=["subnet-a"],
                security_group_id="sg-1",
            ),
            processed_bucket="processed",
            models_bucket="models",
            experiments_bucket="experiments",
            code_archive_key="code/training-sourcedir-0.tar.gz",
            image_repository_arns=[f"{ARN % 'ecr'}:repository/ml-platform/training"],
            encrypts_volumes=False,
            tracking_server_arn=None,
        )
    )


def test_without_a_tracking_server_training_jobs_get_no_mlflow_access() -> None:
    text = json.dumps(bare_execution_policy())
    assert "sagemaker-mlflow" not in text
    assert "/mlflow/" not in text
    assert "EncryptTrainingVolumes" not in text


def test_a_registering_tracking_server_may_write_the_model_registry_only() -> None:
    policy = json.loads(
        tracking_server_policy(
            partition="aws",
            region="us-east-1",
            account_id=MOCK_ACCOUNT_ID,
            experiments_bucket="experiments",
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
            registers_models=True,
        )
    )
    (registry,) = [s for s in policy["Statement"] if s["Sid"] == "RegisterModels"]
    assert registry["Resource"] == [
        f"{ARN % 'sagemaker'}:model-package-group/*",
        f"{ARN % 'sagemaker'}:model-package/*",
    ]
    assert all(action.startswith("sagemaker:") for action in registry["Action"])


def test_pipelines_create_only_their_evaluation_jobs_isolated_with_the_key(plan: Plan) -> None:
    # given each stack's evaluating pipeline / when its role's evaluation statements are read
    key, subnets = data(plan)["kms_key_arn"], sorted(data(plan)["subnet_ids"])
    sagemaker = ARN % "sagemaker"
    for pipeline, role in pipeline_roles(plan):
        sids = by_sid(plan, role)
        jobs = [f"{sagemaker}:processing-job/mlp-{plan.run.stack}-{pipeline['name']}-*"]
        create = sids["CreateEvaluationJobsWithGuardrails"]
        # then it creates processing jobs under its own prefix only
        assert (create["Action"], create["Resource"]) == ("sagemaker:CreateProcessingJob", jobs)
        # and only in the platform's VPC, with the key for output and volume, and isolated
        # unless it compares with the approved version (prod's reads the registry)
        isolated = {"Bool": {"sagemaker:NetworkIsolation": "true"}}
        assert create["Condition"] == {
            "StringEquals": {"sagemaker:OutputKmsKey": key, "sagemaker:VolumeKmsKey": key},
            "ForAllValues:StringEquals": {
                "sagemaker:VpcSubnets": subnets,
                "sagemaker:VpcSecurityGroupIds": [data(plan)["workload_security_group_id"]],
            },
            "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
            **(isolated if plan.run.stack == "dev" else {}),
        }
        # and watches, stops and tags those jobs, nothing else
        assert sids["WatchAndStopEvaluationJobs"]["Action"] == [
            "sagemaker:DescribeProcessingJob",
            "sagemaker:StopProcessingJob",
        ]
        assert sids["WatchAndStopEvaluationJobs"]["Resource"] == jobs
        assert sids["TagEvaluationJobs"]["Resource"] == jobs


def test_pipelines_register_only_into_their_group_with_the_configured_approval(
    plan: Plan,
) -> None:
    # given each stack's registering pipeline / when its role's registry statements are read
    sagemaker = ARN % "sagemaker"
    for pipeline, role in pipeline_roles(plan):
        sids = by_sid(plan, role)
        group = f"mlp-{plan.run.stack}-{pipeline['name']}"
        register = sids["RegisterVersionsInItsGroup"]
        # then it creates versions in its own group only (the action authorizes on both)
        assert register["Action"] == "sagemaker:CreateModelPackage"
        assert register["Resource"] == [
            f"{sagemaker}:model-package/{group}/*",
            f"{sagemaker}:model-package-group/{group}",
        ]
        # and only with the approval status config sets: prod's role cannot approve
        status = {"dev": "Approved", "prod": "PendingManualApproval"}[plan.run.stack]
        assert register["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": status}}
        assert sids["TagVersions"]["Resource"] == f"{sagemaker}:model-package/{group}/*"


def test_evaluation_jobs_read_trained_models_and_write_only_their_reports(plan: Plan) -> None:
    # given the execution role (evaluation jobs run as it too)
    sids = by_sid(plan, role_of(plan, TRAINING))
    models = bucket_arn(plan, "models")
    # then it reads the trained models and lists only their prefix
    assert sids["ReadTrainedModels"]["Action"] == "s3:GetObject"
    assert sids["ReadTrainedModels"]["Resource"] == f"{models}/training/*"
    assert sids["ListTrainedModels"]["Condition"] == {"StringLike": {"s3:prefix": "training/*"}}
    # and writes evaluation reports under evaluation/ only
    assert sids["WriteEvaluations"]["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert sids["WriteEvaluations"]["Resource"] == f"{models}/evaluation/*"


def test_without_evaluation_the_execution_role_has_no_evaluation_grants() -> None:
    # given a role for pipelines that do not evaluate
    sids = {statement["Sid"]: statement for statement in bare_execution_policy()["Statement"]}
    # then it neither reads models nor writes reports nor processing logs
    assert not {"ReadTrainedModels", "ListTrainedModels", "WriteEvaluations"} & set(sids)
    assert not any("ProcessingJobs" in arn for arn in sids["WriteTrainingLogs"]["Resource"])


def test_only_a_comparing_evaluation_reads_the_group_s_versions(plan: Plan) -> None:
    # given the execution role / when its registry statements are read
    sids = by_sid(plan, role_of(plan, TRAINING))
    # then prod's (whose evaluation compares with the approved version) lists and describes
    # the versions of its group and reads their reports; dev's reads no registry at all
    if plan.run.stack == "dev":
        assert "ReadApprovedVersions" not in sids and "ReadEvaluations" not in sids
        return
    assert sids["ReadApprovedVersions"] == {
        "Sid": "ReadApprovedVersions",
        "Effect": "Allow",
        "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
        "Resource": [f"{ARN % 'sagemaker'}:model-package/mlp-prod-fraud/*"],
    }
    assert sids["ReadEvaluations"]["Resource"] == f"{bucket_arn(plan, 'models')}/evaluation/*"
