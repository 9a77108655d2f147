"""What a live endpoint is doing now: its status, config, and each variant's traffic and model.

DescribeEndpoint gives the status, the config it serves, each variant's weight and instance
counts, an update in progress (PendingDeploymentSummary) and a failure reason; the config it
serves gives each variant's model and instance type, and each model where it was built from (a
registered version, or a model.tar.gz). A model or config deleted since is shown as unknown
rather than failing the whole status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from workloads.ops.clients import SageMakerClient, sagemaker_client
from workloads.ops.endpoint import describe_endpoint
from workloads.ops.reaper import _describe as describe

if TYPE_CHECKING:
    import boto3


@dataclass(frozen=True)
class VariantStatus:
    """One production variant of the endpoint."""

    name: str
    current_weight: float | None
    desired_weight: float | None
    current_instances: int | None
    """CurrentInstanceCount (None for a serverless variant)."""
    desired_instances: int | None
    instance_type: str | None
    """From the served config (None for a serverless variant)."""
    model_name: str | None
    """The SageMaker model the served config runs on this variant."""
    model_source: str | None
    """``<group>/<version>`` for a registered version, else the model.tar.gz URI (None: unknown)."""


@dataclass(frozen=True)
class EndpointStatus:
    """An endpoint as SageMaker reports it now."""

    endpoint_name: str
    status: str
    endpoint_config_name: str
    variants: tuple[VariantStatus, ...]
    pending_config_name: str | None
    """The config an update in progress moves the endpoint to (None: no update)."""
    pending_status: str | None
    """That update's status (None: no update)."""
    failure_reason: str | None
    created: str | None
    """CreationTime, ISO 8601."""
    last_modified: str | None
    """LastModifiedTime, ISO 8601."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        result = asdict(self)
        result["variants"] = [asdict(variant) for variant in self.variants]
        return result


def endpoint_status(
    endpoint_name: str,
    *,
    client: SageMakerClient | None = None,
    session: boto3.Session | None = None,
) -> EndpointStatus:
    """Describe ``endpoint_name``, its served config and its variants' models.

    ``NotFound`` when the endpoint does not exist; other AWS errors are ``OpsError`` lines.
    """
    sagemaker = sagemaker_client(client, session)
    described = describe_endpoint(sagemaker, endpoint_name)
    config_name = str(described.get("EndpointConfigName"))
    config = describe(sagemaker, "describe_endpoint_config", "EndpointConfigName", config_name)
    configured = {
        variant["VariantName"]: variant for variant in (config or {}).get("ProductionVariants", [])
    }
    sources: dict[str, str | None] = {}
    variants = []
    for variant in described.get("ProductionVariants", []):
        name = variant["VariantName"]
        declared = configured.get(name, {})
        model_name = declared.get("ModelName")
        if model_name and model_name not in sources:
            sources[model_name] = _model_source(sagemaker, model_name)
        variants.append(
            VariantStatus(
                name=name,
                current_weight=_number(variant.get("CurrentWeight")),
                desired_weight=_number(variant.get("DesiredWeight")),
                current_instances=variant.get("CurrentInstanceCount"),
                desired_instances=variant.get("DesiredInstanceCount"),
                instance_type=declared.get("InstanceType"),
                model_name=model_name,
                model_source=sources.get(model_name) if model_name else None,
            )
        )
    pending = described.get("PendingDeploymentSummary") or {}
    return EndpointStatus(
        endpoint_name=endpoint_name,
        status=str(described.get("EndpointStatus")),
        endpoint_config_name=config_name,
        variants=tuple(variants),
        pending_config_name=pending.get("EndpointConfigName"),
        pending_status=_pending_status(pending),
        failure_reason=described.get("FailureReason") or None,
        created=_time(described.get("CreationTime")),
        last_modified=_time(described.get("LastModifiedTime")),
    )


def _model_source(sagemaker: SageMakerClient, model_name: str) -> str | None:
    """``<group>/<version>`` of the registered version the model is built from, else its data."""
    model = describe(sagemaker, "describe_model", "ModelName", model_name)
    if model is None:
        return None
    for container in [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]:
        package = str(container.get("ModelPackageName") or "")
        if ":model-package/" in package:
            return package.rpartition(":model-package/")[2]
        if package:
            return package
        if container.get("ModelDataUrl"):
            return str(container["ModelDataUrl"])
    return None


def _pending_status(pending: dict[str, Any]) -> str | None:
    """The status of the update in progress; the summary's own, else its variants' first."""
    if not pending:
        return None
    if pending.get("Status"):
        return str(pending["Status"])
    for variant in pending.get("ProductionVariants") or []:
        for status in variant.get("VariantStatus") or []:
            return str(status.get("Status"))
    return "Updating"


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _time(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
