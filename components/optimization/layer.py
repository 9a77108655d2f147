"""OptimizationLayer: OR-Tools solves (issue 21) as SageMaker jobs, by hand or on a schedule.

It consumes the data layer (buckets, key, VPC) and runs in the training layer's image repository
(``ml-platform/training``, which the training layer creates; the stack's config makes this layer
need it). It owns:

* an SNS topic ``mlp-<env>-optimization-alarms`` (platform key, this account's alarms only, the
  configured e-mail subscriptions);
* per job (:class:`OptimizationJob`): its execution role (its problem prefix, its solutions,
  its checkpoints; nothing else), a one-step SageMaker Pipeline ``mlp-<env>-opt-<name>`` and the
  role SageMaker Pipelines runs it as, an alarm on the pipeline's failed executions, and, with a
  ``schedule``, an EventBridge Scheduler schedule that starts it;
* with any schedule, the EventBridge Scheduler group ``mlp-<env>-optimization`` (the schedules'
  roles trust only this group).

Why a layer of its own and not a part of the training layer: the jobs have their own config
section, their own lifecycle (``--target`` one layer) and roles that grant nothing of training's
data; what they share with training (the image repository, the buckets, the key, the VPC) comes
through the platform context and a fixed repository name.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.optimization.pipeline_definition import (
    PROBLEM_PARAMETER,
    OptimizationPlatform,
    execution_role_policy,
    pipeline_definition,
    pipeline_description,
    pipeline_role_policy,
)
from components.optimization.spec import (
    OptimizationConfig,
    OptimizationJobConfig,
    optimization_name,
)
from components.platform import PlatformContext, PlatformLayer
from components.shared.images import ContainerImage, ResolvedImage, resolve_image
from components.shared.pipeline_schedule import PipelineSchedule, pipeline_schedule
from components.shared.resolved_platform import with_resolved_platform
from components.shared.service_role import sagemaker_role_with_policy

#: SageMaker Pipelines' execution metrics (per ``PipelineName``).
PIPELINES_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"

#: The metric a failed execution counts in, and the alarm's period.
FAILED_METRIC, ALARM_PERIOD_SECONDS = "ExecutionFailed", 300


def schedule_group_name(environment: str) -> str:
    """The layer's EventBridge Scheduler group: ``mlp-<env>-optimization``."""
    return f"mlp-{environment}-optimization"


class OptimizationJob(pulumi.ComponentResource):
    """One optimization job: its roles, its pipeline, its failure alarm and optional schedule."""

    pipeline_name: str
    """The pipeline's name (``mlp-<env>-opt-<name>``)."""
    pipeline_arn: pulumi.Output[str]
    """The pipeline's ARN."""
    execution_role_arn: pulumi.Output[str]
    """The role the solve runs as."""
    role_arn: pulumi.Output[str]
    """The role SageMaker Pipelines assumes to run the step."""
    alarm_name: str
    """The alarm on the pipeline's failed executions."""
    schedule: str | None
    """The schedule expression, or None."""
    kind: str
    """What it solves (``routing`` or ``jobshop``)."""
    problem: str
    """The problem's key prefix in the processed bucket."""

    def __init__(
        self,
        name: str,
        job: OptimizationJobConfig,
        platform: PlatformContext,
        *,
        image: ResolvedImage,
        alarm_topic_arn: pulumi.Input[str],
        schedule_group: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:optimization:OptimizationJob", name, None, opts)
        environment = platform.environment
        self.pipeline_name = optimization_name(environment, job.name)
        self.schedule, self.kind, self.problem = job.schedule, job.kind, job.problem
        buckets = platform.buckets
        problem_uri = pulumi.Output.concat("s3://", buckets["processed"].bucket, "/", job.problem)

        execution_role, execution_policy = sagemaker_role_with_policy(
            f"{name}-execution",
            f"{name}-execution",
            description=f"SageMaker execution role of {self.pipeline_name}'s solves",
            account_id=platform.account_id,
            parent=self,
            policy=with_resolved_platform(
                platform,
                lambda resolved, values: execution_role_policy(
                    job,
                    resolved,
                    environment=environment,
                    processed_bucket=values["processed"],
                    models_bucket=values["models"],
                    experiments_bucket=values["experiments"],
                    image_repository_arn=values["repository"],
                ),
                processed=buckets["processed"].bucket,
                models=buckets["models"].bucket,
                experiments=buckets["experiments"].bucket,
                repository=image.repository_arn,
            ),
        )
        pipeline_role, pipeline_policy = sagemaker_role_with_policy(
            f"{name}-pipeline-role",
            f"{name}-pipeline-policy",
            description=f"Lets SageMaker Pipelines run {self.pipeline_name}'s jobs",
            account_id=platform.account_id,
            parent=self,
            policy=with_resolved_platform(
                platform,
                lambda resolved, values: pipeline_role_policy(
                    job,
                    resolved,
                    environment=environment,
                    execution_role_arn=values["execution_role"],
                ),
                execution_role=execution_role.arn,
            ),
        )
        definition = pulumi.Output.all(
            role=execution_role.arn,
            image=image.uri,
            processed=buckets["processed"].bucket,
            models=buckets["models"].bucket,
            experiments=buckets["experiments"].bucket,
            key=platform.kms_key_arn,
            subnets=platform.subnet_ids,
            security_group=platform.workload_security_group_id,
        ).apply(
            lambda values: json.dumps(
                pipeline_definition(
                    job,
                    OptimizationPlatform(
                        environment=environment,
                        role_arn=values["role"],
                        image_uri=values["image"],
                        processed_bucket=values["processed"],
                        models_bucket=values["models"],
                        experiments_bucket=values["experiments"],
                        kms_key_arn=values["key"],
                        subnet_ids=list(values["subnets"]),
                        security_group_id=values["security_group"],
                    ),
                ),
                sort_keys=True,
            )
        )
        pipeline = aws.sagemaker.Pipeline(
            f"{name}-pipeline",
            # A fixed name: executions (and the schedule) start it by name.
            pipeline_name=self.pipeline_name,
            pipeline_display_name=self.pipeline_name,
            pipeline_description=pipeline_description(job),
            role_arn=pipeline_role.arn,
            pipeline_definition=definition,
            # Jobs started right after a deploy need both roles' permissions.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[pipeline_policy, execution_policy]
            ),
        )
        self.alarm_name = f"{self.pipeline_name}-failed"
        aws.cloudwatch.MetricAlarm(
            f"{name}-failed",
            name=self.alarm_name,
            alarm_description=(
                f"An execution of {self.pipeline_name} failed (its Solve step's job: "
                "aws sagemaker list-pipeline-executions, then the job's log)"
            ),
            namespace=PIPELINES_NAMESPACE,
            metric_name=FAILED_METRIC,
            dimensions={"PipelineName": self.pipeline_name},
            statistic="Sum",
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            period=ALARM_PERIOD_SECONDS,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            # No execution is no failure.
            treat_missing_data="notBreaching",
            alarm_actions=[alarm_topic_arn],
            opts=pulumi.ResourceOptions(parent=self),
        )
        if job.schedule is not None:
            if schedule_group is None:
                raise ValueError(f"job {job.name}: a schedule needs the layer's schedule group")
            pipeline_schedule(
                self,
                PipelineSchedule(
                    resource_name=name,
                    schedule_name=self.pipeline_name,
                    description=f"Starts {self.pipeline_name} ({job.kind}) on {job.schedule}",
                    expression=job.schedule,
                    pipeline_arn=pipeline.arn,
                    # Explicit, so the schedule shows what it solves: the configured problem.
                    parameters=((PROBLEM_PARAMETER, problem_uri),),
                ),
                platform,
                schedule_group,
                depends_on=[pipeline],
            )
        self.pipeline_arn = pipeline.arn
        self.execution_role_arn = execution_role.arn
        self.role_arn = pipeline_role.arn
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, object]:
        """The job's outputs as the stack exports them."""
        return {
            "name": self.pipeline_name,
            "kind": self.kind,
            "problem": self.problem,
            "arn": self.pipeline_arn,
            "execution_role_arn": self.execution_role_arn,
            "role_arn": self.role_arn,
            "failure_alarm": self.alarm_name,
            "schedule": self.schedule,
        }


class OptimizationLayer(PlatformLayer[OptimizationConfig]):
    """Optimization jobs: one pipeline each, an alarm topic, and the schedules' group."""

    TYPE = "mlplatform:optimization:OptimizationLayer"

    alarm_topic_arn: pulumi.Output[str]
    """The topic every job's failure alarm notifies."""
    schedule_group_name: pulumi.Output[str] | None
    """The group of the jobs' schedules (only when a job is scheduled)."""
    jobs: dict[str, OptimizationJob]
    """Each job by its pipeline's name."""

    def build(self, spec: OptimizationConfig, platform: PlatformContext) -> None:
        """Create the layer from its ``optimization`` section on ``platform``."""
        prefix = f"mlp-{platform.environment}-optimization"
        child = pulumi.ResourceOptions(parent=self)
        topic = platform.alarm_topic(
            f"{prefix}-alarms",
            topic_name=f"{prefix}-alarms",
            display_name=f"ml-platform {platform.environment} optimization alarms",
            emails=spec.alarm_emails,
            parent=self,
        )
        self.alarm_topic_arn = topic.arn
        self.schedule_group_name = None
        if spec.scheduled:
            group = aws.scheduler.ScheduleGroup(
                prefix, name=schedule_group_name(platform.environment), opts=child
            )
            self.schedule_group_name = group.name
        images: dict[tuple[str, str], ResolvedImage] = {}
        self.jobs = {}
        for job in spec.jobs:
            key = (job.image.repository, job.image.tag)
            if key not in images:
                images[key] = resolve_image(
                    ContainerImage.ours(job.image),
                    region=platform.region,
                    account_id=platform.account_id,
                    partition=platform.partition,
                    parent=self,
                )
            component = OptimizationJob(
                f"mlp-{platform.environment}-opt-{job.name}",
                job,
                platform,
                image=images[key],
                alarm_topic_arn=topic.arn,
                schedule_group=self.schedule_group_name,
                opts=child,
            )
            self.jobs[component.pipeline_name] = component

    def exports(self) -> dict[str, object]:
        """The layer's outputs as the stack exports them."""
        return {
            "alarm_topic_arn": self.alarm_topic_arn,
            "schedule_group_name": self.schedule_group_name,
            "jobs": {name: job.exports() for name, job in self.jobs.items()},
        }
