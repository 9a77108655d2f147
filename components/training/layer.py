"""TrainingLayer: everything needed to train models on the platform (issue 4, "TrainingInfra").

It consumes the data layer (buckets, key, VPC) and owns:

* the ECR repositories of the platform's own images (:class:`ImageRepositories`);
* managed MLflow, a serverless app or a tracking server (:class:`ExperimentTracking`), if enabled;
* the training source archive (``workloads/training``) in the models bucket, under a key named
  by its digest, so a code change rolls the pipelines that run it and an unchanged one changes
  nothing;
* the execution role of every training job (:class:`TrainingRole`);
* one SageMaker Pipeline per configured model (:class:`TrainingPipeline`), training or tuning;
* one model package group per model the pipelines register (:class:`ModelRegistry`);
* the data scientists' notebook instance and/or Studio domain (:class:`Notebooks`).
"""

from __future__ import annotations

import pulumi

from components.platform import PlatformContext, PlatformLayer
from components.shared.code_archive import (
    ARCHIVE_DIR,
    SourceArchive,
    build_training_archive,
    upload_archive,
)
from components.shared.images import ResolvedImage, resolve_image
from components.shared.spec_rules import PROJECT_ROOT
from components.training.experiment_tracking import ExperimentTracking
from components.training.model_registry import ModelRegistry
from components.training.notebooks import Notebooks
from components.training.pipeline import (
    TrainingPipeline,
    TrainingPipelineArgs,
    serving_image,
    training_image,
)
from components.training.pipeline_definition import pipeline_name
from components.training.pipeline_steps import model_group_name
from components.training.repositories import ImageRepositories
from components.training.role import TrainingRole, TrainingRoleArgs
from components.training.spec import TrainingConfig, TrainingPipelineConfig

#: Where the training code archives live in the models bucket.
CODE_PREFIX = "code"


def code_archive_key(archive: SourceArchive) -> str:
    """The archive's key in the models bucket: ``code/training-sourcedir-<digest>.tar.gz``."""
    return f"{CODE_PREFIX}/{archive.path.name}"


class TrainingLayer(PlatformLayer[TrainingConfig]):
    """Image repositories, experiment tracking, training pipelines and notebooks."""

    TYPE = "mlplatform:training:TrainingLayer"

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
    registry: ModelRegistry | None
    """The model package groups (only when a pipeline names one)."""

    def build(self, spec: TrainingConfig, platform: PlatformContext) -> None:
        """Create the layer from its ``training`` section on ``platform``."""
        prefix = f"mlp-{platform.environment}"
        child = pulumi.ResourceOptions(parent=self)
        self.repositories = ImageRepositories(
            f"{prefix}-images", spec.repositories, platform, opts=child
        )

        self.tracking = None
        if spec.experiment_tracking.enabled:
            self.tracking = ExperimentTracking(
                f"{prefix}-tracking", spec.experiment_tracking, platform, opts=child
            )
        tracking_arn = self.tracking.server_arn if self.tracking else None

        self.execution_role = None
        self.pipelines = {}
        self.code_archive_uri = None
        if spec.pipelines:
            self._pipelines(prefix, spec.pipelines, platform, tracking_arn)

        self.registry = None
        if any(pipeline.registry is not None for pipeline in spec.pipelines):
            self.registry = ModelRegistry(f"{prefix}-models", spec.pipelines, platform, opts=child)

        self.notebooks = None
        if spec.notebooks.instance is not None or spec.notebooks.studio is not None:
            self.notebooks = Notebooks(
                f"{prefix}-notebooks",
                spec.notebooks,
                platform,
                tracking_server_arn=tracking_arn,
                opts=child,
            )

    def _pipelines(
        self,
        prefix: str,
        pipelines: tuple[TrainingPipelineConfig, ...],
        platform: PlatformContext,
        tracking_arn: pulumi.Output[str] | None,
    ) -> None:
        """The code archive, the execution role and one pipeline per spec."""
        archive = build_training_archive(PROJECT_ROOT, ARCHIVE_DIR)
        code = upload_archive(
            f"{prefix}-training-code",
            archive,
            bucket=platform.buckets["models"].bucket,
            key=code_archive_key(archive),
            kms_key_arn=platform.kms_key_arn,
            parent=self,
        )
        self.code_archive_uri = code.uri

        images = resolve_images(pipelines, platform, parent=self)
        self.execution_role = TrainingRole(
            f"{prefix}-training",
            platform,
            TrainingRoleArgs(
                code_archive_key=code.key,
                image_repository_arns=[image.repository_arn for image in images.values()],
                encrypts_volumes=any(
                    pipeline.encrypts_volume
                    or (pipeline.evaluation is not None and pipeline.evaluation.encrypts_volume)
                    for pipeline in pipelines
                ),
                tracking_server_arn=tracking_arn,
                evaluates=any(pipeline.evaluation is not None for pipeline in pipelines),
                baseline_groups=baseline_groups(platform.environment, pipelines),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for pipeline in pipelines:
            full_name = pipeline_name(platform.environment, pipeline)
            serving = serving_image(pipeline)
            self.pipelines[full_name] = TrainingPipeline(
                # Not the bare pipeline name: an endpoint of the same model may carry it.
                f"{prefix}-train-{pipeline.name}",
                pipeline,
                platform,
                TrainingPipelineArgs(
                    execution_role_arn=self.execution_role.role_arn,
                    image_uri=images[pipeline.name].uri,
                    code_archive_key=code.key,
                    tracking_server_arn=tracking_arn if pipeline.track_experiments else None,
                    serving_image_uri=(
                        None
                        if serving is None
                        else resolve_image(
                            serving,
                            region=platform.region,
                            account_id=platform.account_id,
                            partition=platform.partition,
                            parent=self,
                        ).uri
                    ),
                    code_archive_sha256=archive.sha256,
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
            "model_groups": self.registry.exports() if self.registry else {},
        }


def resolve_images(
    pipelines: tuple[TrainingPipelineConfig, ...],
    platform: PlatformContext,
    *,
    parent: pulumi.Resource,
) -> dict[str, ResolvedImage]:
    """Each pipeline's image URI and the repository it is pulled from, by the pipeline's name."""
    return {
        pipeline.name: resolve_image(
            training_image(pipeline),
            region=platform.region,
            account_id=platform.account_id,
            partition=platform.partition,
            parent=parent,
        )
        for pipeline in pipelines
    }


def baseline_groups(
    environment: str, pipelines: tuple[TrainingPipelineConfig, ...]
) -> tuple[str, ...]:
    """The groups whose approved versions the pipelines' evaluations compare with, once each."""
    groups = [
        model_group_name(environment, pipeline)
        for pipeline in pipelines
        if pipeline.evaluation is not None and pipeline.evaluation.compares_with_approved
    ]
    return tuple(dict.fromkeys(groups))
