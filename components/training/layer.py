"""TrainingLayer: everything needed to train models on the platform (issue 4, "TrainingInfra").

It consumes the data layer (buckets, key, VPC) and owns:

* the ECR repositories of the platform's own images (:class:`ImageRepositories`);
* the MLflow tracking server (:class:`ExperimentTracking`), if enabled;
* the training source archive (``workloads/training``) in the models bucket, under a key named
  by its digest, so a code change rolls the pipelines that run it and an unchanged one changes
  nothing;
* the execution role of every training job (:class:`TrainingRole`);
* one SageMaker Pipeline per configured model (:class:`TrainingPipeline`), training or tuning;
* the data scientists' notebook instance and/or Studio domain (:class:`Notebooks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.platform import PlatformContext
from components.shared.code_archive import SourceArchive, upload_archive
from components.shared.retention import DataRetention
from components.training.experiment_tracking import ExperimentTracking, ExperimentTrackingArgs
from components.training.notebooks import NotebookInstanceSpec, Notebooks, NotebooksArgs, StudioSpec
from components.training.pipeline import (
    TrainingImage,
    TrainingPipeline,
    TrainingPipelineArgs,
    resolve_image,
)
from components.training.pipeline_definition import TrainingJobSpec
from components.training.repositories import ImageRepositories, ImageRepositoriesArgs
from components.training.role import TrainingRole, TrainingRoleArgs

#: Where the training code archives live in the models bucket.
CODE_PREFIX = "code"


def code_archive_key(archive: SourceArchive) -> str:
    """The archive's key in the models bucket: ``code/training-sourcedir-<digest>.tar.gz``."""
    return f"{CODE_PREFIX}/{archive.path.name}"


@dataclass(frozen=True)
class PipelineSpec:
    """One training pipeline: what it trains and the image it runs on."""

    job: TrainingJobSpec
    """The training job (and tuning) of the pipeline."""
    image: TrainingImage
    """The container image."""


@dataclass(frozen=True)
class TrackingSpec:
    """The MLflow tracking server's settings."""

    server_size: str = "Small"
    """``Small``, ``Medium`` or ``Large``."""
    mlflow_version: str = "3.0"
    """The MLflow version."""
    automatic_model_registration: bool = False
    """Register MLflow models in the SageMaker model registry too."""
    weekly_maintenance_window_start: str = "Sun:03:00"
    """When AWS may patch the server."""


@dataclass(frozen=True)
class RepositoriesSpec:
    """The platform's ECR repositories."""

    names: list[str] = field(default_factory=lambda: ["training", "serving"])
    """Names under ``ml-platform/``."""
    keep_tagged_images: int = 30
    """Tagged images each repository keeps."""
    untagged_expiry_days: int = 7
    """Days after which untagged images expire."""


@dataclass(frozen=True)
class TrainingLayerArgs:
    """Inputs of the TrainingLayer."""

    environment: str
    """Short environment name (``dev``, ``prod``)."""
    region: str
    """The stack's region."""
    platform: PlatformContext
    """The platform the layer is deployed into (built by the data layer)."""
    retention: DataRetention
    """Whether stateful resources (repositories, the tracking server) survive destroy."""
    repositories: RepositoriesSpec = field(default_factory=RepositoriesSpec)
    """The ECR repositories."""
    tracking: TrackingSpec | None = None
    """The MLflow tracking server; None creates none."""
    pipelines: list[PipelineSpec] = field(default_factory=list)
    """The training pipelines."""
    source_archive: SourceArchive | None = None
    """The training code; required when there are pipelines."""
    notebook_instance: NotebookInstanceSpec | None = None
    """A notebook instance; None creates none."""
    studio: StudioSpec | None = None
    """A Studio domain; None creates none."""

    def __post_init__(self) -> None:
        problems = []
        names = [spec.job.pipeline_name for spec in self.pipelines]
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            problems.append(f"pipeline names repeat: {', '.join(duplicates)}")
        if self.pipelines and self.source_archive is None:
            problems.append("source_archive is required: pipelines run the training code")
        tracked = [spec.job.pipeline_name for spec in self.pipelines if spec.job.track_experiments]
        if tracked and self.tracking is None:
            problems.append(f"{', '.join(tracked)} track experiments without a tracking server")
        if problems:
            raise ValueError("TrainingLayer: " + "; ".join(problems))


class TrainingLayer(pulumi.ComponentResource):
    """Image repositories, experiment tracking, training pipelines and notebooks."""

    repositories: ImageRepositories
    """The platform's ECR repositories."""
    tracking: ExperimentTracking | None
    """The MLflow tracking server."""
    execution_role: TrainingRole | None
    """The role every training job runs as (only with pipelines)."""
    pipelines: dict[str, TrainingPipeline]
    """Each pipeline by its full name."""
    notebooks: Notebooks | None
    """The notebook instance and/or Studio domain."""
    code_archive_uri: pulumi.Output[str] | None
    """Where the training code archive lies in S3."""

    def __init__(
        self, name: str, args: TrainingLayerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:training:TrainingLayer", name, None, opts)
        data = args.platform
        prefix = f"mlp-{args.environment}"
        child = pulumi.ResourceOptions(parent=self)
        buckets = {purpose: data.buckets[purpose].bucket for purpose in data.buckets}

        repos = args.repositories
        self.repositories = ImageRepositories(
            f"{prefix}-images",
            ImageRepositoriesArgs(
                names=repos.names,
                kms_key_arn=data.kms_key_arn,
                retention=args.retention,
                keep_tagged_images=repos.keep_tagged_images,
                untagged_expiry_days=repos.untagged_expiry_days,
            ),
            opts=child,
        )

        self.tracking = None
        if args.tracking is not None:
            self.tracking = ExperimentTracking(
                f"{prefix}-tracking",
                ExperimentTrackingArgs(
                    environment=args.environment,
                    region=args.region,
                    experiments_bucket=buckets["experiments"],
                    kms_key_arn=data.kms_key_arn,
                    account_id=data.account_id,
                    partition=data.partition,
                    retention=args.retention,
                    server_size=args.tracking.server_size,
                    mlflow_version=args.tracking.mlflow_version,
                    automatic_model_registration=args.tracking.automatic_model_registration,
                    weekly_maintenance_window_start=args.tracking.weekly_maintenance_window_start,
                ),
                opts=child,
            )
        tracking_arn = self.tracking.server_arn if self.tracking else None

        self.execution_role = None
        self.pipelines = {}
        self.code_archive_uri = None
        if args.pipelines and args.source_archive is not None:
            self._pipelines(prefix, args, tracking_arn)

        self.notebooks = None
        if args.notebook_instance is not None or args.studio is not None:
            self.notebooks = Notebooks(
                f"{prefix}-notebooks",
                NotebooksArgs(
                    environment=args.environment,
                    region=args.region,
                    account_id=data.account_id,
                    partition=data.partition,
                    processed_bucket=buckets["processed"],
                    experiments_bucket=buckets["experiments"],
                    kms_key_arn=data.kms_key_arn,
                    vpc_id=data.vpc_id,
                    subnet_ids=data.subnet_ids,
                    security_group_id=data.workload_security_group_id,
                    retention=args.retention,
                    instance=args.notebook_instance,
                    studio=args.studio,
                    tracking_server_arn=tracking_arn,
                ),
                opts=child,
            )
        self.register_outputs(self.exports())

    def _pipelines(
        self, prefix: str, args: TrainingLayerArgs, tracking_arn: pulumi.Output[str] | None
    ) -> None:
        """The code archive, the execution role and one pipeline per spec."""
        data, archive = args.platform, args.source_archive
        assert archive is not None  # checked by the caller
        processed, models_bucket, experiments = (
            data.buckets[purpose].bucket for purpose in ("processed", "models", "experiments")
        )
        code = upload_archive(
            f"{prefix}-training-code",
            archive,
            bucket=models_bucket,
            key=code_archive_key(archive),
            kms_key_arn=data.kms_key_arn,
            parent=self,
        )
        self.code_archive_uri = code.uri

        images = {
            spec.job.pipeline_name: resolve_image(
                spec.image,
                region=args.region,
                account_id=data.account_id,
                partition=data.partition,
                parent=self,
            )
            for spec in args.pipelines
        }
        self.execution_role = TrainingRole(
            f"{prefix}-training",
            TrainingRoleArgs(
                region=args.region,
                account_id=data.account_id,
                partition=data.partition,
                processed_bucket=processed,
                models_bucket=models_bucket,
                experiments_bucket=experiments,
                code_archive_key=code.key,
                kms_key_arn=data.kms_key_arn,
                image_repository_arns=[image.repository_arn for image in images.values()],
                vpc_id=data.vpc_id,
                subnet_ids=data.subnet_ids,
                security_group_id=data.workload_security_group_id,
                encrypts_volumes=any(spec.job.encrypts_volume for spec in args.pipelines),
                tracking_server_arn=tracking_arn,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for spec in args.pipelines:
            job = spec.job
            self.pipelines[job.pipeline_name] = TrainingPipeline(
                # Not the bare pipeline name: an endpoint of the same model may carry it.
                f"{prefix}-train-{job.pipeline_name.removeprefix(prefix + '-')}",
                TrainingPipelineArgs(
                    spec=job,
                    region=args.region,
                    account_id=data.account_id,
                    partition=data.partition,
                    execution_role_arn=self.execution_role.role_arn,
                    image_uri=images[job.pipeline_name].uri,
                    processed_bucket=processed,
                    models_bucket=models_bucket,
                    experiments_bucket=experiments,
                    code_archive_key=code.key,
                    kms_key_arn=data.kms_key_arn,
                    subnet_ids=data.subnet_ids,
                    security_group_id=data.workload_security_group_id,
                    tracking_server_arn=tracking_arn if job.track_experiments else None,
                ),
                # Jobs started right after a deploy need the execution role's permissions.
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[self.execution_role.policy, code.resource]
                ),
            )

    def exports(self) -> dict[str, object]:
        """The layer's outputs as the stack exports them."""
        tracking, notebooks = self.tracking, self.notebooks
        return {
            "repository_urls": self.repositories.urls,
            "execution_role_arn": self.execution_role.role_arn if self.execution_role else None,
            "code_archive_uri": self.code_archive_uri,
            "tracking_server_arn": tracking.server_arn if tracking else None,
            "tracking_server_url": tracking.server_url if tracking else None,
            "tracking_server_role_arn": tracking.role_arn if tracking else None,
            "pipelines": {name: pipeline.exports() for name, pipeline in self.pipelines.items()},
            "notebooks": notebooks.exports() if notebooks else None,
        }
