"""ServingLayer: the stack's endpoints, their alarm topic and the inference code they run.

It consumes the data layer (models and capture buckets, the platform key, the VPC) and owns:

* an SNS topic, encrypted with the platform key, that every endpoint alarm notifies (plus the
  configured e-mail subscriptions);
* the inference source archive (``workloads/``) in the models bucket, under a key named by its
  digest, so a code change rolls the models that run it and an unchanged one changes nothing;
* one :class:`ServingEndpoint` per configured endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.platform import PlatformContext
from components.serving.endpoint import EndpointSpec, ServingEndpoint, ServingPlatform
from components.shared.alarm_topic import alarm_topic
from components.shared.code_archive import SourceArchive, upload_archive
from components.shared.retention import DataRetention

#: Where the inference code archives live in the models bucket.
CODE_PREFIX = "code/inference"


def needs_source_archive(endpoints: list[EndpointSpec]) -> bool:
    """Whether any variant runs a container that downloads our code archive when it starts."""
    return any(variant.image.downloads_code for spec in endpoints for variant in spec.all_variants)


@dataclass(frozen=True)
class ServingLayerArgs:
    """Inputs of the ServingLayer."""

    environment: str
    """Short environment name (``dev``, ``prod``)."""
    region: str
    """The stack's region."""
    platform: PlatformContext
    """The platform the layer is deployed into (built by the data layer)."""
    endpoints: list[EndpointSpec]
    """The endpoints to deploy."""
    source_archive: SourceArchive | None
    """The inference code; required when a variant runs a prebuilt framework container."""
    alarm_emails: list[str]
    """Addresses subscribed to the alarm topic."""
    log_retention_days: int
    """Retention of the endpoints' log groups."""
    retention: DataRetention
    """Whether the endpoints' logs survive destroy."""

    def __post_init__(self) -> None:
        names = [spec.endpoint_name for spec in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"ServingLayer: endpoint names must be unique, got {names}")
        if needs_source_archive(self.endpoints) and self.source_archive is None:
            raise ValueError(
                "ServingLayer: source_archive is required: variants run prebuilt containers"
            )


class ServingLayer(pulumi.ComponentResource):
    """SageMaker endpoints with guarded rollouts and their alarms."""

    alarm_topic_arn: pulumi.Output[str]
    """The topic every endpoint alarm notifies."""
    code_archive_uri: pulumi.Output[str] | None
    """Where the inference code archive lies in S3."""
    endpoints: dict[str, ServingEndpoint]
    """Each endpoint by its full name."""

    def __init__(
        self, name: str, args: ServingLayerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlplatform:serving:ServingLayer", name, None, opts)
        data = args.platform
        prefix = f"mlp-{args.environment}"

        topic = alarm_topic(
            f"{prefix}-serving-alarms",
            display_name=f"ml-platform {args.environment} serving alarms",
            kms_key_arn=data.kms_key_arn,
            account_id=data.account_id,
            partition=data.partition,
            emails=args.alarm_emails,
            parent=self,
        )

        code_key: pulumi.Output[str] | None = None
        self.code_archive_uri = None
        models_bucket = data.buckets["models"].bucket
        if args.source_archive is not None:
            archive = args.source_archive
            uploaded = upload_archive(
                f"{prefix}-inference-code",
                archive,
                bucket=models_bucket,
                key=f"{CODE_PREFIX}/{archive.sha256[:16]}/sourcedir.tar.gz",
                kms_key_arn=data.kms_key_arn,
                parent=self,
            )
            code_key, self.code_archive_uri = uploaded.key, uploaded.uri

        platform = ServingPlatform(
            alarm_topic_arn=topic.arn,
            models_bucket=models_bucket,
            capture_bucket=data.buckets["capture"].bucket,
            kms_key_arn=data.kms_key_arn,
            code_archive_key=code_key,
            subnet_ids=data.subnet_ids,
            security_group_id=data.workload_security_group_id,
            vpc_id=data.vpc_id,
            region=args.region,
            account_id=data.account_id,
            partition=data.partition,
            log_retention_days=args.log_retention_days,
            retention=args.retention,
        )
        self.endpoints = {
            spec.endpoint_name: ServingEndpoint(
                spec.endpoint_name, spec, platform, opts=pulumi.ResourceOptions(parent=self)
            )
            for spec in args.endpoints
        }
        self.alarm_topic_arn = topic.arn
        self.register_outputs(self.exports())

    def exports(self) -> dict[str, object]:
        """The layer's outputs as the stack exports them."""
        return {
            "alarm_topic_arn": self.alarm_topic_arn,
            "code_archive_uri": self.code_archive_uri,
            "endpoints": {name: endpoint.exports() for name, endpoint in self.endpoints.items()},
        }
