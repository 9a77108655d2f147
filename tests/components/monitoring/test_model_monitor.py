"""ModelMonitor and MonitoringLayer under the mock runtime, for dev and prod.

given each stack file with the monitoring layer listed and monitors configured (baselines built in
a temporary folder) / when the program runs under the recording mock runtime / then each monitored
endpoint gets its uploaded baseline, a pipeline whose check alone is network-isolated, a schedule
that starts it with its role scoped to that pipeline, least-privilege job and pipeline roles,
alarms on the monitoring topic, and the Model Monitor backend only where it is enabled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.monitoring.model_monitor_backend import MODEL_MONITOR_NAMESPACE
from components.monitoring.policies import PROCESSING_LOG_GROUP
from components.training.role import UNSCOPED_ACTIONS
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource, run_offline
from tests.conftest import STACKS, Plan, stack_config, stack_file, with_section, write_baseline
from workloads.monitoring import contract

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
SCHEDULE = "aws:scheduler/schedule:Schedule"
GROUP = "aws:scheduler/scheduleGroup:ScheduleGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
DATA_QUALITY = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
MONITORING_SCHEDULE = "aws:sagemaker/monitoringSchedule:MonitoringSchedule"
MONITOR = "mlplatform:monitoring:ModelMonitor"

LAYERS = ["data", "feature_store", "training", "gpu", "serving", "monitoring"]


def monitoring_section(stack: str, baselines: Path) -> dict[str, Any]:
    """What the stack files configure: dev watches churn daily; prod also fraud, hourly."""
    churn = write_baseline(baselines / "churn")
    fraud = write_baseline(baselines / "fraud", {"amount": "Fractional", "prediction": "Integral"})
    if stack == "dev":
        return {"endpoints": [{"endpoint": "churn", "baseline": str(churn)}]}
    return {
        "alarm_emails": ["ml-oncall@example.com"],
        "endpoints": [
            {"endpoint": "churn", "baseline": str(churn), "model_monitor": {"enabled": True}},
            {
                "endpoint": "fraud",
                "baseline": str(fraud),
                "schedule": "rate(1 hour)",
                "window_hours": 1,
                "thresholds": {"prediction_psi": 0.3},
            },
        ],
    }


def monitored_config(stack: str, baselines: Path) -> dict[str, str]:
    flat = with_section(stack_config(stack), "layers", LAYERS)
    return with_section(flat, "monitoring", monitoring_section(stack, baselines))


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Plan]:
    """Each stack's plan with the monitoring layer listed and configured."""
    baselines = tmp_path_factory.mktemp("baselines")
    return {stack: Plan(run_offline(stack, monitored_config(stack, baselines))) for stack in STACKS}


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def plan(monitored: dict[str, Plan], stack: str) -> Plan:
    return monitored[stack]


@pytest.fixture
def layer(plan: Plan) -> Plan:
    return plan.layer("monitoring")


def monitors(layer: Plan) -> dict[str, Plan]:
    """Each monitor's subtree by the endpoint's short name."""
    prefix = "mlp-"
    found = {}
    for component in layer.of_type(MONITOR):
        short = component.name.removeprefix(prefix).split("-monitoring-", 1)[1]
        found[short] = Plan(layer.run, [component, *layer.descendants(component)])
    return found


def expected_endpoints(stack: str) -> list[str]:
    return {"dev": ["churn"], "prod": ["churn", "fraud"]}[stack]


def key_arn(plan: Plan) -> str:
    (key,) = plan.of_type("aws:kms/key:Key")
    return key.outputs["arn"]


def bucket(plan: Plan, purpose: str) -> str:
    return plan.run.exports["data"]["bucket_names"][purpose]


def document(resource: RecordedResource, field: str = "policy") -> dict[str, Any]:
    return json.loads(resource.inputs[field])


def statements(policy: RecordedResource) -> dict[str, dict[str, Any]]:
    return {item["Sid"]: item for item in document(policy)["Statement"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_policy(monitor: Plan, role_suffix: str) -> RecordedResource:
    (role,) = [r for r in monitor.of_type(ROLE) if r.name.endswith(role_suffix)]
    (policy,) = monitor.children(role, ROLE_POLICY)
    return policy


def definition(monitor: Plan) -> dict[str, Any]:
    (pipeline,) = monitor.of_type(PIPELINE)
    return json.loads(pipeline.inputs["pipelineDefinition"])


# --------------------------------------------------------------------------------------------
# the layer
# --------------------------------------------------------------------------------------------


def test_one_monitor_per_configured_endpoint_with_a_fixed_pipeline_name(
    layer: Plan, stack: str
) -> None:
    found = monitors(layer)
    assert sorted(found) == expected_endpoints(stack)
    for short, monitor in found.items():
        (pipeline,) = monitor.of_type(PIPELINE)
        assert pipeline.inputs["pipelineName"] == f"mlp-{stack}-{short}-monitor"


def test_exports_name_pipelines_schedules_baselines_reports_and_alarms(
    plan: Plan, stack: str
) -> None:
    exports = plan.run.exports["monitoring"]
    monitoring = bucket(plan, "monitoring")
    assert exports["schedule_group_name"] == f"mlp-{stack}-monitoring"
    assert exports["alarm_topic_arn"] == (
        f"arn:aws:sns:us-east-1:{MOCK_ACCOUNT_ID}:mlp-{stack}-monitoring-alarms"
    )
    assert exports["code_archive_uri"].startswith(f"s3://{monitoring}/code/")
    assert exports["code_archive_uri"].endswith(f"/{contract.CODE_ARCHIVE}")
    assert sorted(exports["monitors"]) == [f"mlp-{stack}-{e}" for e in expected_endpoints(stack)]
    for endpoint, monitor in exports["monitors"].items():
        assert monitor["pipeline_name"] == f"{endpoint}-monitor"
        assert monitor["pipeline_arn"].endswith(f":pipeline/{endpoint}-monitor")
        assert monitor["schedule_name"] == f"{endpoint}-monitor"
        assert monitor["baseline_uri"] == f"s3://{monitoring}/{endpoint}/baseline/"
        assert monitor["reports_uri"] == f"s3://{monitoring}/{endpoint}/reports/"
        assert monitor["alarm_names"] == [
            f"{endpoint}-monitor-{kind}"
            for kind in ("drift", "prediction-drift", "violations", "silent")
        ]
    enabled = {name: m["model_monitor_schedule_name"] for name, m in exports["monitors"].items()}
    if stack == "prod":
        assert enabled == {
            "mlp-prod-churn": "mlp-prod-churn-monitor-data-quality",
            "mlp-prod-fraud": None,
        }
    else:
        assert enabled == {"mlp-dev-churn": None}


def test_the_topic_is_encrypted_guarded_and_mailed(layer: Plan, plan: Plan, stack: str) -> None:
    (topic,) = layer.of_type(TOPIC)
    assert topic.inputs["name"] == f"mlp-{stack}-monitoring-alarms"
    assert topic.inputs["kmsMasterKeyId"] == key_arn(plan)
    (policy,) = layer.children(topic, "aws:sns/topicPolicy:TopicPolicy")
    sids = {s["Sid"] for s in document(policy)["Statement"]}
    assert {"AllowCloudWatchAlarmsOfThisAccount", "DenyInsecureTransport"} <= sids
    emails = [s.inputs["endpoint"] for s in layer.of_type(SUBSCRIPTION)]
    assert emails == ({"dev": [], "prod": ["ml-oncall@example.com"]}[stack])


def test_the_vpc_gets_a_cloudwatch_metrics_endpoint(layer: Plan) -> None:
    (endpoint,) = layer.of_type(ENDPOINT)
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.monitoring"
    assert endpoint.inputs["privateDnsEnabled"] is True


def test_the_code_zip_is_uploaded_once_with_the_platform_key(layer: Plan, plan: Plan) -> None:
    (code,) = [o for o in layer.of_type(OBJECT) if o.inputs["key"].startswith("code/")]
    assert code.inputs["bucket"] == bucket(plan, "monitoring")
    assert code.inputs["serverSideEncryption"] == "aws:kms"
    assert code.inputs["kmsKeyId"] == key_arn(plan)
    digest = code.inputs["key"].split("/")[1]
    assert code.inputs["source"]["asset"]["path"] == (
        f"build/archives/monitoring-code-{digest}.zip"
    )


def test_no_monitoring_resources_when_the_layer_is_not_listed(
    run_stack: Callable[[str, dict[str, str]], Plan],
    tmp_path: Path,
    stack: str,
) -> None:
    # given a configured monitoring section, but the layer left out of the list
    flat = with_section(
        monitored_config(stack, tmp_path),
        "layers",
        [name for name in stack_file(stack)["ml-platform:layers"] if name != "monitoring"],
    )
    run = run_stack(stack, flat)
    # then nothing of the layer exists and nothing is exported for it
    assert not [r for r in run.resources if "mlplatform:monitoring" in r.urn]
    # (the optimization layer's schedules are its own)
    schedules = [r for r in run.of_type(SCHEDULE) if "mlplatform:optimization" not in r.urn]
    assert not schedules and not run.of_type(DATA_QUALITY)
    assert "monitoring" not in run.run.exports


# --------------------------------------------------------------------------------------------
# each monitor
# --------------------------------------------------------------------------------------------


def test_the_baseline_files_are_uploaded_encrypted_under_the_endpoint(
    layer: Plan, plan: Plan, stack: str
) -> None:
    for short, monitor in monitors(layer).items():
        uploads = {o.inputs["key"]: o for o in monitor.of_type(OBJECT)}
        endpoint = f"mlp-{stack}-{short}"
        assert sorted(uploads) == sorted(
            f"{endpoint}/baseline/{name}" for name in contract.BASELINE_FILES
        )
        for key, upload in uploads.items():
            assert upload.inputs["bucket"] == bucket(plan, "monitoring")
            assert upload.inputs["serverSideEncryption"] == "aws:kms"
            assert upload.inputs["kmsKeyId"] == key_arn(plan)
            assert upload.inputs["source"]["asset"]["path"].endswith(
                f"{short}/{key.rsplit('/', 1)[1]}"
            )


def test_the_check_alone_is_isolated_and_every_step_is_in_the_vpc_with_kms(
    layer: Plan, plan: Plan
) -> None:
    key = key_arn(plan)
    subnets = plan.run.exports["data"]["subnet_ids"]
    group = plan.run.exports["data"]["workload_security_group_id"]
    for monitor in monitors(layer).values():
        steps = {step["Name"]: step["Arguments"] for step in definition(monitor)["Steps"]}
        assert {
            name: s["NetworkConfig"]["EnableNetworkIsolation"] for name, s in steps.items()
        } == {
            "SelectWindow": False,
            "CheckDrift": True,
            "PublishMetrics": False,
        }
        for arguments in steps.values():
            assert arguments["NetworkConfig"]["VpcConfig"] == {
                "SecurityGroupIds": [group],
                "Subnets": subnets,
            }
            assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
            if "ProcessingOutputConfig" in arguments:
                assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == key
        # the job role runs every step
        (job_role,) = [r for r in monitor.of_type(ROLE) if r.name.endswith("-job")]
        assert {s["RoleArn"] for s in steps.values()} == {job_role.outputs["arn"]}


def test_the_check_gets_the_configured_thresholds_and_window(layer: Plan, stack: str) -> None:
    for short, monitor in monitors(layer).items():
        spec = definition(monitor)
        window = {p["Name"]: p["DefaultValue"] for p in spec["Parameters"]}["WindowHours"]
        assert window == (1 if short == "fraud" else 24)
        (check,) = [s for s in spec["Steps"] if s["Name"] == "CheckDrift"]
        arguments = check["Arguments"]["AppSpecification"]["ContainerArguments"]
        options = dict(zip(arguments[::2], arguments[1::2], strict=True))
        assert options["--endpoint"] == f"mlp-{stack}-{short}"
        assert options["--prediction-psi"] == ("0.3" if short == "fraud" else "0.2")
        assert options["--psi"] == "0.2"


def test_the_schedule_starts_the_pipeline_in_utc_with_the_window(
    layer: Plan, plan: Plan, stack: str
) -> None:
    (group,) = layer.of_type(GROUP)
    for short, monitor in monitors(layer).items():
        (schedule,) = monitor.of_type(SCHEDULE)
        (pipeline,) = monitor.of_type(PIPELINE)
        (scheduler_role,) = [r for r in monitor.of_type(ROLE) if r.name.endswith("-scheduler")]
        inputs = schedule.inputs
        assert inputs["scheduleExpression"] == (
            "rate(1 hour)" if short == "fraud" else "rate(1 day)"
        )
        assert inputs["scheduleExpressionTimezone"] == "UTC"
        assert inputs["flexibleTimeWindow"] == {"mode": "OFF"}
        assert inputs["groupName"] == group.inputs["name"]
        assert inputs["kmsKeyArn"] == key_arn(plan)
        assert inputs["state"] == "ENABLED"
        target = inputs["target"]
        assert target["arn"] == pipeline.outputs["arn"]
        assert target["roleArn"] == scheduler_role.outputs["arn"]
        assert target["retryPolicy"]["maximumRetryAttempts"] >= 1
        assert target["sagemakerPipelineParameters"]["pipelineParameters"] == [
            {"name": "WindowHours", "value": "1" if short == "fraud" else "24"}
        ]
        # the first run finds the baseline in place
        uploads = {o.urn for o in monitor.of_type(OBJECT)}
        assert uploads <= set(schedule.depends_on)


def test_the_scheduler_role_may_only_start_its_pipeline(layer: Plan, plan: Plan) -> None:
    for monitor in monitors(layer).values():
        (role,) = [r for r in monitor.of_type(ROLE) if r.name.endswith("-scheduler")]
        (schedule,) = monitor.of_type(SCHEDULE)
        (pipeline,) = monitor.of_type(PIPELINE)
        (trust,) = document(role, "assumeRolePolicy")["Statement"]
        assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": MOCK_ACCOUNT_ID}
        assert trust["Condition"]["ArnLike"]["aws:SourceArn"].endswith(
            f":schedule-group/{schedule.inputs['groupName']}"
        )
        policy = statements(role_policy(monitor, "-scheduler"))
        assert policy["StartThisPipeline"]["Action"] == "sagemaker:StartPipelineExecution"
        assert policy["StartThisPipeline"]["Resource"] == pipeline.outputs["arn"]
        decrypt = policy["DecryptThisSchedule"]
        assert (decrypt["Action"], decrypt["Resource"]) == ("kms:Decrypt", key_arn(plan))
        assert decrypt["Condition"]["StringEquals"] == {
            "kms:EncryptionContext:aws:scheduler:schedule:arn": schedule.outputs["arn"]
        }
        assert set(policy) == {"StartThisPipeline", "DecryptThisSchedule"}


def allowed_s3(plan: Plan, endpoint: str, code_key: str) -> set[str]:
    capture, monitoring = bucket(plan, "capture"), bucket(plan, "monitoring")
    return {
        f"arn:aws:s3:::{capture}",
        f"arn:aws:s3:::{capture}/{endpoint}/*",
        f"arn:aws:s3:::{monitoring}",
        f"arn:aws:s3:::{monitoring}/{endpoint}/baseline/*",
        f"arn:aws:s3:::{monitoring}/{endpoint}/windows/*",
        f"arn:aws:s3:::{monitoring}/{endpoint}/reports/*",
        f"arn:aws:s3:::{monitoring}/{code_key}",
    }


def test_the_job_role_reaches_exactly_its_endpoints_prefixes(
    layer: Plan, plan: Plan, stack: str
) -> None:
    (code,) = [o for o in layer.of_type(OBJECT) if o.inputs["key"].startswith("code/")]
    for short, monitor in monitors(layer).items():
        endpoint = f"mlp-{stack}-{short}"
        policy = statements(role_policy(monitor, "-job"))
        for statement in policy.values():
            actions = as_list(statement["Action"])
            # no wildcard action anywhere
            assert not [a for a in actions if "*" in a], statement
            if statement["Resource"] == "*":
                assert set(actions) <= UNSCOPED_ACTIONS, statement
            s3 = [r for r in as_list(statement["Resource"]) if r.startswith("arn:aws:s3:")]
            assert set(s3) <= allowed_s3(plan, endpoint, code.inputs["key"]), statement
        # writes go to windows/ and reports/ only; reads of capture under the endpoint only
        assert set(policy["WriteWindowsAndReports"]["Resource"]) == {
            f"arn:aws:s3:::{bucket(plan, 'monitoring')}/{endpoint}/windows/*",
            f"arn:aws:s3:::{bucket(plan, 'monitoring')}/{endpoint}/reports/*",
        }
        assert policy["ListCapture"]["Condition"] == {
            "StringLike": {"s3:prefix": [f"{endpoint}/*"]}
        }
        # metrics only in the monitoring namespace
        assert policy["PublishMonitoringMetrics"]["Condition"] == {
            "StringEquals": {"cloudwatch:namespace": contract.METRIC_NAMESPACE}
        }
        # the key only through S3 (data) and as a grant for its volume
        assert policy["UsePlatformKeyThroughS3"]["Condition"] == {
            "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
        }
        assert policy["EncryptJobVolumes"]["Condition"] == {
            "Bool": {"kms:GrantIsForAWSResource": "true"}
        }
        assert PROCESSING_LOG_GROUP in policy["WriteProcessingLogs"]["Resource"][0]
        assert policy["PullImages"]["Resource"] == [
            "arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-scikit-learn"
        ]
        assert "CreateInterfacesInPlatformSubnets" in policy


def test_the_pipeline_role_creates_jobs_only_with_the_guardrails(layer: Plan, plan: Plan) -> None:
    key = key_arn(plan)
    subnets = sorted(plan.run.exports["data"]["subnet_ids"])
    group = plan.run.exports["data"]["workload_security_group_id"]
    for monitor in monitors(layer).values():
        (job_role,) = [r for r in monitor.of_type(ROLE) if r.name.endswith("-job")]
        (pipeline,) = monitor.of_type(PIPELINE)
        (pipeline_role,) = [r for r in monitor.of_type(ROLE) if r.name.endswith("-pipeline")]
        assert pipeline.inputs["roleArn"] == pipeline_role.outputs["arn"]
        policy = statements(role_policy(monitor, "-pipeline"))
        create = policy["CreateJobsWithGuardrails"]
        assert create["Action"] == "sagemaker:CreateProcessingJob"
        assert create["Resource"].endswith(":processing-job/pipelines-*")
        condition = create["Condition"]
        assert condition["StringEquals"] == {"sagemaker:VolumeKmsKey": key}
        assert condition["StringEqualsIfExists"] == {"sagemaker:OutputKmsKey": key}
        assert condition["ForAllValues:StringEquals"] == {
            "sagemaker:VpcSubnets": subnets,
            "sagemaker:VpcSecurityGroupIds": [group],
            "sagemaker:InstanceTypes": ["ml.m5.large"],
        }
        assert condition["Null"] == {
            "sagemaker:VpcSubnets": "false",
            "sagemaker:VpcSecurityGroupIds": "false",
        }
        assert policy["WatchAndStopJobs"]["Action"] == [
            "sagemaker:DescribeProcessingJob",
            "sagemaker:StopProcessingJob",
        ]
        passing = policy["PassJobRoleToSageMaker"]
        assert passing["Resource"] == job_role.outputs["arn"]
        assert passing["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }
        assert set(policy) == {
            "CreateJobsWithGuardrails",
            "TagJobs",
            "WatchAndStopJobs",
            "PassJobRoleToSageMaker",
        }


def test_alarms_page_the_monitoring_topic_with_the_configured_thresholds(
    layer: Plan, stack: str
) -> None:
    (topic,) = layer.of_type(TOPIC)
    for short, monitor in monitors(layer).items():
        endpoint = f"mlp-{stack}-{short}"
        alarms = {a.inputs["metricName"]: a for a in monitor.of_type(ALARM)}
        assert set(alarms) == {
            contract.FEATURES_DRIFTED,
            contract.PREDICTION_PSI,
            contract.CONSTRAINT_VIOLATIONS,
            contract.CHECKS_COMPLETED,
        }
        for alarm in alarms.values():
            assert alarm.inputs["namespace"] == contract.METRIC_NAMESPACE
            assert alarm.inputs["dimensions"] == {"Endpoint": endpoint}
            assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]]
            assert alarm.inputs["okActions"] == [topic.outputs["arn"]]
        drift = alarms[contract.FEATURES_DRIFTED].inputs
        assert (drift["comparisonOperator"], drift["threshold"]) == (
            "GreaterThanOrEqualToThreshold",
            1,
        )
        assert alarms[contract.PREDICTION_PSI].inputs["threshold"] == (
            0.3 if short == "fraud" else 0.2
        )
        assert alarms[contract.CONSTRAINT_VIOLATIONS].inputs["threshold"] == 1
        for metric in (
            contract.FEATURES_DRIFTED,
            contract.PREDICTION_PSI,
            contract.CONSTRAINT_VIOLATIONS,
        ):
            assert alarms[metric].inputs["treatMissingData"] == "notBreaching"
            # a drifted check keeps its alarm up until the next check
            assert alarms[metric].inputs["period"] == (3600 if short == "fraud" else 86400)
        silent = alarms[contract.CHECKS_COMPLETED].inputs
        assert silent["treatMissingData"] == "breaching"
        assert (silent["comparisonOperator"], silent["threshold"]) == ("LessThanThreshold", 1)
        assert silent["statistic"] == "Sum"
        # paged once no check completed for the interval plus two hours of grace
        hours = 3 if short == "fraud" else 26
        assert (silent["period"], silent["evaluationPeriods"], silent["datapointsToAlarm"]) == (
            3600,
            hours,
            hours,
        )


# --------------------------------------------------------------------------------------------
# the optional Model Monitor backend
# --------------------------------------------------------------------------------------------


def test_model_monitor_backend_exists_only_where_enabled(layer: Plan, stack: str) -> None:
    found = {
        short: (len(m.of_type(DATA_QUALITY)), len(m.of_type(MONITORING_SCHEDULE)))
        for short, m in monitors(layer).items()
    }
    expected = {"dev": {"churn": (0, 0)}, "prod": {"churn": (1, 1), "fraud": (0, 0)}}[stack]
    assert found == expected


def test_model_monitor_backend_is_isolated_encrypted_and_uses_our_baseline(
    monitored: dict[str, Plan],
) -> None:
    plan = monitored["prod"]
    churn = monitors(plan.layer("monitoring"))["churn"]
    key, monitoring = key_arn(plan), bucket(plan, "monitoring")
    (definition_,) = churn.of_type(DATA_QUALITY)
    inputs = definition_.inputs
    network = inputs["networkConfig"]
    assert network["enableNetworkIsolation"] is True
    assert network["enableInterContainerTrafficEncryption"] is True
    assert network["vpcConfig"]["subnets"] == plan.run.exports["data"]["subnet_ids"]
    assert inputs["jobResources"]["clusterConfig"]["volumeKmsKeyId"] == key
    assert inputs["dataQualityJobOutputConfig"]["kmsKeyId"] == key
    assert inputs["dataQualityJobOutputConfig"]["monitoringOutputs"]["s3Output"]["s3Uri"] == (
        f"s3://{monitoring}/mlp-prod-churn/model-monitor/"
    )
    baseline = inputs["dataQualityBaselineConfig"]
    assert baseline["constraintsResource"]["s3Uri"] == (
        f"s3://{monitoring}/mlp-prod-churn/baseline/constraints.json"
    )
    assert baseline["statisticsResource"]["s3Uri"] == (
        f"s3://{monitoring}/mlp-prod-churn/baseline/statistics.json"
    )
    assert inputs["dataQualityJobInput"]["endpointInput"]["endpointName"] == "mlp-prod-churn"
    assert inputs["dataQualityAppSpecification"]["imageUri"].endswith(
        "/sagemaker-model-monitor-analyzer:latest"
    )
    assert inputs["stoppingCondition"]["maxRuntimeInSeconds"] <= 3600
    (schedule,) = churn.of_type(MONITORING_SCHEDULE)
    config = schedule.inputs["monitoringScheduleConfig"]
    assert config["monitoringType"] == "DataQuality"
    assert config["monitoringJobDefinitionName"] == definition_.outputs["name"]
    assert config["scheduleConfig"]["scheduleExpression"] == "cron(0 * ? * * *)"
    # its role is its own, scoped like the job role, publishing only Model Monitor's namespace
    (role,) = [r for r in churn.of_type(ROLE) if r.name.endswith("-model-monitor")]
    assert inputs["roleArn"] == role.outputs["arn"]
    policy = statements(role_policy(churn, "-model-monitor"))
    assert policy["PublishMonitoringMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": MODEL_MONITOR_NAMESPACE}
    }
    assert policy["WriteModelMonitorReports"]["Resource"] == (
        f"arn:aws:s3:::{monitoring}/mlp-prod-churn/model-monitor/*"
    )
    for statement in policy.values():
        assert not [a for a in as_list(statement["Action"]) if "*" in a]
