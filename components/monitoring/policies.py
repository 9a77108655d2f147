"""The ModelMonitor's role policies: its processing jobs, its pipeline, schedules and retraining.

Plain functions of plain values (:class:`~components.monitoring.access.MonitorAccess`, called
inside an ``apply``), so each policy reads, and is tested, as the JSON it produces. The statements
every processing job of a monitor needs (the key, logs, metrics, VPC) and the capture read are
shared with the optional Model Monitor backend's role
(:mod:`components.monitoring.model_monitor_backend`).
"""

from __future__ import annotations

from components.monitoring.access import MonitorAccess
from components.monitoring.pipeline import (
    BASELINE_PREFIX,
    REPORTS_PREFIX,
    WINDOWS_PREFIX,
    endpoint_prefix,
)
from components.monitoring.spec import MonitoringConfig
from components.shared import iam_policies
from components.shared.pipeline_schedule import start_pipeline_statement
from workloads.monitoring import contract

#: Where SageMaker writes processing job logs (one group for the account and region).
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"

#: Name prefix SageMaker Pipelines gives the jobs of its steps (``pipelines-<execution>-...``).
GENERATED_JOB_PREFIX = "pipelines-"


def processing_statements(access: MonitorAccess, namespace: str) -> list[iam_policies.Statement]:
    """What any processing job of this monitor needs besides data: key, logs, metrics, VPC."""
    log_group = access.arn("logs", f"log-group:{PROCESSING_LOG_GROUP}")
    return [
        iam_policies.kms_via_s3_statement(access.kms_key_arn, access.region),
        {
            # EC2 encrypts the job's volume with the key through a grant. A volume key needs
            # kms:CreateGrant alone (AWS's execution-role permissions for processing jobs);
            # kms:DescribeKey never carries the grant condition, so it was never granted here.
            # https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html
            "Sid": "EncryptJobVolumes",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant"],
            "Resource": access.kms_key_arn,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        iam_policies.write_logs_statement("WriteProcessingLogs", [log_group]),
        {
            "Sid": "PublishMonitoringMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",  # PutMetricData has no resource scope; the namespace condition is it
            "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
        },
        *iam_policies.ecr_pull_statements(access.image_repository_arns),
        *access.vpc_interface_statements(),
    ]


def read_capture_statements(access: MonitorAccess) -> list[iam_policies.Statement]:
    """Read (and list) the endpoint's captured requests in the capture bucket, nothing else."""
    endpoint = access.endpoint_name
    return [
        {
            "Sid": "ReadCapture",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": access.s3_arn(access.capture_bucket, f"{endpoint}/*"),
        },
        {
            "Sid": "ListCapture",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": access.s3_arn(access.capture_bucket),
            "Condition": {"StringLike": {"s3:prefix": [f"{endpoint}/*"]}},
        },
    ]


def job_role_policy(access: MonitorAccess) -> str:
    """The monitor's job role: exactly its endpoint's prefixes, the code, key, metrics, VPC."""
    endpoint, bucket = access.endpoint_name, access.monitoring_bucket
    written = [
        access.s3_arn(bucket, f"{endpoint_prefix(endpoint, kind)}*")
        for kind in (WINDOWS_PREFIX, REPORTS_PREFIX)
    ]
    return iam_policies.policy_json(
        *read_capture_statements(access),
        {
            "Sid": "ReadBaselineAndCode",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [
                access.s3_arn(bucket, f"{endpoint_prefix(endpoint, BASELINE_PREFIX)}*"),
                access.s3_arn(bucket, access.code_key),
            ],
        },
        {
            "Sid": "WriteWindowsAndReports",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            "Resource": written,
        },
        {
            # Processing inputs list their prefix before downloading it.
            "Sid": "ListMonitorPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": access.s3_arn(bucket),
            "Condition": {
                "StringLike": {
                    "s3:prefix": [
                        *(
                            f"{endpoint_prefix(endpoint, kind)}*"
                            for kind in (BASELINE_PREFIX, WINDOWS_PREFIX, REPORTS_PREFIX)
                        ),
                        access.code_key,
                    ]
                }
            },
        },
        *processing_statements(access, contract.METRIC_NAMESPACE),
    )


def pipeline_role_policy(monitoring: MonitoringConfig, access: MonitorAccess) -> str:
    """The pipeline role: its processing jobs, created only with the platform's guardrails.

    The jobs run as ``access.role_arn`` (the job role) on ``monitoring``'s instance type and
    runtime. SageMaker Pipelines names a processing step's jobs
    ``pipelines-<execution>-<step>-...``.
    """
    jobs = access.arn("sagemaker", f"processing-job/{GENERATED_JOB_PREFIX}*")
    return iam_policies.policy_json(
        {
            "Sid": "CreateJobsWithGuardrails",
            "Effect": "Allow",
            "Action": "sagemaker:CreateProcessingJob",
            "Resource": jobs,
            "Condition": {
                "StringEquals": {"sagemaker:VolumeKmsKey": access.kms_key_arn},
                # The publish step has no outputs (so no output key); any output must use it.
                "StringEqualsIfExists": {"sagemaker:OutputKmsKey": access.kms_key_arn},
                "ForAllValues:StringEquals": {
                    "sagemaker:VpcSubnets": sorted(access.subnet_ids),
                    "sagemaker:VpcSecurityGroupIds": [access.security_group_id],
                    "sagemaker:InstanceTypes": [monitoring.instance_type],
                },
                "NumericLessThanEquals": {
                    "sagemaker:MaxRuntimeInSeconds": monitoring.max_runtime_seconds
                },
                # ForAllValues holds for a request without subnets too: require them.
                "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
            },
        },
        {
            # Pipelines tags every job it starts with the execution that started it.
            "Sid": "TagJobs",
            "Effect": "Allow",
            "Action": "sagemaker:AddTags",
            "Resource": jobs,
        },
        {
            "Sid": "WatchAndStopJobs",
            "Effect": "Allow",
            "Action": ["sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"],
            "Resource": jobs,
        },
        iam_policies.pass_role_to_sagemaker_statement("PassJobRoleToSageMaker", access.role_arn),
    )


def retrain_role_policy(pipeline_arn: str) -> str:
    """The retraining rule's role: start the training pipeline, and nothing else."""
    return iam_policies.policy_json(start_pipeline_statement(pipeline_arn))
