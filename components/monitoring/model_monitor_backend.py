"""The optional SageMaker Model Monitor backend of a ModelMonitor, for accounts that still have it.

Beside the platform's own drift check, on the same baseline: a **DataQualityJobDefinition**
(network-isolated, encrypted, in the VPC) and a **MonitoringSchedule**, with a role of its own
that reads the endpoint's capture and baseline and writes only its reports. Plain functions that
create resources parented to the ModelMonitor component, so their URNs are the component's
children's.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.monitoring.access import MonitorAccess, monitor_access
from components.monitoring.pipeline import BASELINE_PREFIX, endpoint_prefix
from components.monitoring.policies import processing_statements, read_capture_statements
from components.monitoring.spec import MonitoredEndpointConfig, MonitoringConfig
from components.platform import PlatformContext
from components.shared import iam_policies
from components.shared.service_role import service_role
from workloads.monitoring import contract

#: Where the optional Model Monitor backend writes its reports under the endpoint's folder.
MODEL_MONITOR_PREFIX = "model-monitor"

#: The namespace SageMaker Model Monitor publishes its data-quality metrics in.
MODEL_MONITOR_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"

#: AWS's Model Monitor analyzer (``get_prebuilt_ecr_image`` supports this repository name); its
#: images are published as ``latest`` only.
MODEL_MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"
MODEL_MONITOR_TAG = "latest"

#: Where the analyzer finds the captured requests and writes its results inside its container.
_MODEL_MONITOR_INPUT = "/opt/ml/processing/input/endpoint"
_MODEL_MONITOR_OUTPUT = "/opt/ml/processing/output"

#: Longest a Model Monitor job may run (an hourly schedule allows at most an hour).
MODEL_MONITOR_MAX_RUNTIME_SECONDS = 1800


def model_monitor_role_policy(access: MonitorAccess) -> str:
    """The optional Model Monitor backend's role: capture, baseline, its reports, key, VPC."""
    endpoint, bucket = access.endpoint_name, access.monitoring_bucket
    reports = f"{endpoint}/{MODEL_MONITOR_PREFIX}/"
    return iam_policies.policy_json(
        *read_capture_statements(access),
        {
            "Sid": "ReadBaseline",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": access.s3_arn(bucket, f"{endpoint_prefix(endpoint, BASELINE_PREFIX)}*"),
        },
        {
            "Sid": "WriteModelMonitorReports",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": access.s3_arn(bucket, f"{reports}*"),
        },
        {
            "Sid": "ListModelMonitorPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": access.s3_arn(bucket),
            "Condition": {
                "StringLike": {
                    "s3:prefix": [f"{endpoint_prefix(endpoint, BASELINE_PREFIX)}*", f"{reports}*"]
                }
            },
        },
        *processing_statements(access, MODEL_MONITOR_NAMESPACE),
    )


def model_monitor_backend(
    parent: pulumi.Resource,
    name: str,
    entry: MonitoredEndpointConfig,
    monitoring: MonitoringConfig,
    platform: PlatformContext,
    *,
    code_key: pulumi.Input[str],
    uploads: list[aws.s3.BucketObjectv2],
) -> pulumi.Output[str]:
    """SageMaker Model Monitor's DataQualityJobDefinition and MonitoringSchedule, under ``parent``.

    Configured by ``entry.model_monitor`` (on the section's volume size); ``code_key`` is the
    monitoring code zip's key. Returns the schedule's name. The job definition waits for
    ``uploads``: the baseline it checks against.
    """
    backend = entry.model_monitor
    endpoint = entry.endpoint_name(platform.environment)
    child = pulumi.ResourceOptions(parent=parent)
    analyzer = aws.sagemaker.get_prebuilt_ecr_image_output(
        repository_name=MODEL_MONITOR_REPOSITORY,
        image_tag=MODEL_MONITOR_TAG,
        region=platform.region,
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    analyzer_repository = pulumi.Output.concat(
        "arn:",
        platform.partition,
        ":ecr:",
        platform.region,
        ":",
        analyzer.registry_id,
        ":repository/",
        MODEL_MONITOR_REPOSITORY,
    )
    role = service_role(
        f"{name}-model-monitor",
        service="sagemaker.amazonaws.com",
        description=f"SageMaker Model Monitor's data-quality jobs of {endpoint}",
        account_id=platform.account_id,
        opts=child,
    )
    # The backend's jobs run as their own role on AWS's analyzer image.
    access = monitor_access(
        platform,
        endpoint,
        code_key=code_key,
        role_arn=role.arn,
        image_uri=analyzer.registry_path,
        image_repository_arn=analyzer_repository,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-model-monitor",
        role=role.id,
        policy=access.apply(model_monitor_role_policy),
        opts=pulumi.ResourceOptions(parent=role),
    )
    bucket = platform.buckets["monitoring"].bucket
    baseline = endpoint_prefix(endpoint, BASELINE_PREFIX)
    network = aws.sagemaker.DataQualityJobDefinitionNetworkConfigArgs(
        enable_network_isolation=True,
        enable_inter_container_traffic_encryption=True,
        vpc_config=aws.sagemaker.DataQualityJobDefinitionNetworkConfigVpcConfigArgs(
            security_group_ids=[platform.workload_security_group_id], subnets=platform.subnet_ids
        ),
    )
    job_definition = aws.sagemaker.DataQualityJobDefinition(
        f"{name}-data-quality",
        # Auto-named: every field replaces the definition, and a new name lets the schedule
        # move to the new one before the old one goes.
        role_arn=role.arn,
        data_quality_app_specification=aws.sagemaker.DataQualityJobDefinitionDataQualityAppSpecificationArgs(
            image_uri=analyzer.registry_path,
            environment={"publish_cloudwatch_metrics": "Enabled"},
        ),
        data_quality_baseline_config=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigArgs(
            constraints_resource=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigConstraintsResourceArgs(
                s3_uri=pulumi.Output.concat(
                    "s3://", bucket, "/", baseline, contract.CONSTRAINTS_FILE
                )
            ),
            statistics_resource=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigStatisticsResourceArgs(
                s3_uri=pulumi.Output.concat(
                    "s3://", bucket, "/", baseline, contract.STATISTICS_FILE
                )
            ),
        ),
        data_quality_job_input=aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputArgs(
            endpoint_input=aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputEndpointInputArgs(
                endpoint_name=platform.serving_endpoint_names[endpoint],
                local_path=_MODEL_MONITOR_INPUT,
                s3_data_distribution_type="FullyReplicated",
                s3_input_mode="File",
            )
        ),
        data_quality_job_output_config=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigArgs(
            kms_key_id=platform.kms_key_arn,
            monitoring_outputs=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsArgs(
                s3_output=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsS3OutputArgs(
                    s3_uri=pulumi.Output.concat(
                        "s3://", bucket, f"/{endpoint}/{MODEL_MONITOR_PREFIX}/"
                    ),
                    local_path=_MODEL_MONITOR_OUTPUT,
                    s3_upload_mode="EndOfJob",
                )
            ),
        ),
        job_resources=aws.sagemaker.DataQualityJobDefinitionJobResourcesArgs(
            cluster_config=aws.sagemaker.DataQualityJobDefinitionJobResourcesClusterConfigArgs(
                instance_count=1,
                instance_type=backend.instance_type,
                volume_size_in_gb=monitoring.volume_size_gb,
                volume_kms_key_id=platform.kms_key_arn,
            )
        ),
        network_config=network,
        stopping_condition=aws.sagemaker.DataQualityJobDefinitionStoppingConditionArgs(
            max_runtime_in_seconds=MODEL_MONITOR_MAX_RUNTIME_SECONDS
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy, *uploads]),
    )
    schedule = aws.sagemaker.MonitoringSchedule(
        f"{name}-data-quality",
        name=f"{entry.pipeline_name(platform.environment)}-data-quality",
        monitoring_schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigArgs(
            monitoring_type="DataQuality",
            monitoring_job_definition_name=job_definition.name,
            schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigScheduleConfigArgs(
                schedule_expression=backend.schedule
            ),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return schedule.name
