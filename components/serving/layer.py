"""ServingLayer: the stack's endpoints, their alarm topic and the inference code they run.

It consumes the data layer (models and capture buckets, the platform key, the VPC) and owns:

* an SNS topic, encrypted with the platform key, that every endpoint alarm notifies (plus the
  configured e-mail subscriptions);
* the inference source archive (``workloads/``) in the models bucket, under a key named by its
  digest, so a code change rolls the models that run it and an unchanged one changes nothing;
  built and uploaded only when a variant's container downloads it (:func:`needs_source_archive`);
* one :class:`ServingEndpoint` per configured endpoint.
"""

from __future__ import annotations

import pulumi

from components.platform import PlatformContext, PlatformLayer
from components.serving.endpoint import ServingEndpoint, endpoint_name
from components.serving.model import downloads_code, model_image
from components.serving.spec import ServingConfig
from components.shared.code_archive import ARCHIVE_DIR, build_source_archive
from components.shared.spec_rules import PROJECT_ROOT

#: Where the inference code archives live in the models bucket.
CODE_PREFIX = "code/inference"


def needs_source_archive(spec: ServingConfig) -> bool:
    """Whether any variant runs a container that downloads our code archive when it starts."""
    return any(
        downloads_code(model_image(variant))
        for endpoint in spec.endpoints
        for variant in endpoint.all_variants
    )


class ServingLayer(PlatformLayer[ServingConfig]):
    """SageMaker endpoints with guarded rollouts and their alarms."""

    TYPE = "mlplatform:serving:ServingLayer"

    alarm_topic_arn: pulumi.Output[str]
    """The topic every endpoint alarm notifies."""
    code_archive_uri: pulumi.Output[str] | None
    """Where the inference code archive lies in S3 (None when no container downloads it)."""
    endpoints: dict[str, ServingEndpoint]
    """Each endpoint by its full name (``mlp-<env>-<name>``)."""

    def build(self, spec: ServingConfig, platform: PlatformContext) -> None:
        """Deploy the ``serving`` section ``spec`` into ``platform`` (built by the data layer)."""
        prefix = f"mlp-{platform.environment}"

        topic = platform.alarm_topic(
            f"{prefix}-serving-alarms",
            display_name=f"ml-platform {platform.environment} serving alarms",
            emails=spec.alarm_emails,
            parent=self,
        )

        code_key: pulumi.Output[str] | None = None
        self.code_archive_uri = None
        if needs_source_archive(spec):
            archive = build_source_archive(PROJECT_ROOT, ARCHIVE_DIR)
            uploaded = platform.upload_archive(
                f"{prefix}-inference-code",
                archive,
                bucket="models",
                key=f"{CODE_PREFIX}/{archive.sha256[:16]}/sourcedir.tar.gz",
                parent=self,
            )
            code_key, self.code_archive_uri = uploaded.key, uploaded.uri

        self.endpoints = {}
        for endpoint in spec.endpoints:
            full_name = endpoint_name(platform.environment, endpoint)
            self.endpoints[full_name] = ServingEndpoint(
                full_name,
                endpoint,
                platform,
                alarm_topic_arn=topic.arn,
                code_archive_key=code_key,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.alarm_topic_arn = topic.arn

    def exports(self) -> dict[str, object]:
        """The layer's outputs as the stack exports them."""
        return {
            "alarm_topic_arn": self.alarm_topic_arn,
            "code_archive_uri": self.code_archive_uri,
            "endpoints": {name: endpoint.exports() for name, endpoint in self.endpoints.items()},
        }
