"""The reaper: delete the endpoint configurations and models a rollout left behind, safely.

The stack retains every EndpointConfiguration and Model (``retain_on_delete``): when SageMaker
rolls an update back, Pulumi would otherwise delete the replaced ones on the next ``pulumi up``
(pulumi/pulumi#9979, pulumi/pulumi#2948) while the endpoint still runs on them. Retained, they stay
in AWS after Pulumi forgets them, and :func:`reap_retired` deletes them once that is safe. The
stack's ``RolloutGate`` runs it after a verified rollout.

A configuration of the endpoint is one the stack auto-named from the endpoint's configuration
resource: ``<config_prefix>-<hex suffix>``, e.g. ``mlp-prod-churn-config-2f3ea9d`` for the prefix
``mlp-prod-churn-config``. It is *in use* when any endpoint in the account runs it, or updates to
it (DescribeEndpoint's PendingDeploymentSummary); otherwise it is *retired*. The reaper

* refuses to reap at all while the endpoint, or any endpoint on one of its configurations, is
  transitional (Creating, Updating, SystemUpdating, RollingBack, Deleting);
* never deletes a configuration in use, and keeps the newest ``keep`` retired ones (by
  CreationTime) so that an instant rollback (UpdateEndpoint to a kept config) needs nothing else;
* deletes the older retired configurations, then the models they referenced (production and
  shadow variants), except a model that a kept or in-use configuration still references. When a
  kept or in-use configuration cannot be described (deleted already), it deletes no model.

Plain boto3: every list call is paginated, every AWS error becomes one ``OpsError`` line that
also names what was deleted before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from workloads.ops.clients import SageMakerClient
from workloads.ops.endpoint import TRANSITIONAL_STATUSES
from workloads.ops.errors import OpsError, aws_errors, error_code, error_message, failed

#: Bounds of ``keep`` (the serving config's ``rollout.keep_retired_configs`` uses the same).
MAX_KEEP = 10
VARIANT_KINDS = ("ProductionVariants", "ShadowProductionVariants")


@dataclass(frozen=True)
class ReapResult:
    """What one reaping of an endpoint's configurations found and deleted."""

    endpoint_name: str
    """The endpoint whose configurations were reaped."""
    deleted_configs: tuple[str, ...]
    """Retired configurations deleted (oldest last)."""
    deleted_models: tuple[str, ...]
    """Models deleted because only deleted configurations referenced them."""
    kept_configs: tuple[str, ...]
    """Retired configurations kept for rollback (newest first)."""
    in_use_configs: tuple[str, ...]
    """The endpoint's configurations that an endpoint runs or updates to."""
    models_skipped: str | None = None
    """Why no model was deleted although configurations were, or None."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return {
            "endpoint_name": self.endpoint_name,
            "deleted_configs": list(self.deleted_configs),
            "deleted_models": list(self.deleted_models),
            "kept_configs": list(self.kept_configs),
            "in_use_configs": list(self.in_use_configs),
            "models_skipped": self.models_skipped,
        }


@dataclass(frozen=True)
class _EndpointUse:
    name: str
    status: str
    configs: tuple[str, ...]
    """The config it runs, and the one a deployment in progress moves it to."""


def config_pattern(config_prefix: str) -> re.Pattern[str]:
    """The names Pulumi auto-names from ``config_prefix``: ``<prefix>-<lowercase hex>``.

    Another endpoint's configurations never match: its prefix ends in ``-config`` too, so a name
    of another endpoint that starts with ``<prefix>-`` goes on with more than hex digits.
    """
    return re.compile(re.escape(config_prefix) + r"-[0-9a-f]+")


def reap_retired(
    endpoint_name: str, config_prefix: str, keep: int, *, sagemaker: SageMakerClient
) -> ReapResult:
    """Delete the endpoint's retired configurations but the newest ``keep``, and their models.

    A model is deleted only when no kept or in-use configuration references it; configurations in
    use are never deleted (see the module docstring).

    Raises ``OpsError`` (one line) when ``keep`` is out of 0..MAX_KEEP, when an endpoint
    concerned is transitional (nothing deleted), or when an AWS call fails (naming what was
    deleted before).
    """
    if not 0 <= keep <= MAX_KEEP:
        raise OpsError(f"keep must be between 0 and {MAX_KEEP}, got {keep}")
    subject = f"Reaping retired configs of endpoint '{endpoint_name}'"
    deleted_configs: list[str] = []
    deleted_models: list[str] = []
    try:
        uses = _endpoint_uses(sagemaker)
        ours = _our_configs(sagemaker, config_prefix)
        in_use = {config for use in uses for config in use.configs}
        busy = [
            use
            for use in uses
            if use.status in TRANSITIONAL_STATUSES
            and (use.name == endpoint_name or any(config in ours for config in use.configs))
        ]
        if busy:
            raise OpsError(
                "refused: "
                + ", ".join(f"endpoint '{use.name}' is {use.status}" for use in busy)
                + "; nothing deleted, the next verified rollout reaps"
            )
        retired = sorted(
            (name for name in ours if name not in in_use),
            key=lambda name: (ours[name], name),
            reverse=True,
        )
        kept, doomed = retired[:keep], retired[keep:]
        ours_in_use = sorted(name for name in ours if name in in_use)

        doomed_models = _models_of(sagemaker, doomed)
        protected_models, unknown = _protected_models(sagemaker, [*kept, *sorted(in_use)])
        for config in doomed:
            if _delete(sagemaker, "delete_endpoint_config", "EndpointConfigName", config):
                deleted_configs.append(config)
        models_skipped = None
        if unknown and doomed_models:
            models_skipped = (
                f"configs kept or in use could not be described ({', '.join(unknown)}), "
                "so no model was deleted"
            )
        else:
            for model in sorted(set(doomed_models) - protected_models):
                if _delete(sagemaker, "delete_model", "ModelName", model):
                    deleted_models.append(model)
    except OpsError as error:
        done = _deleted_so_far(deleted_configs, deleted_models)
        raise OpsError(f"{subject}: {error}{done}") from error
    return ReapResult(
        endpoint_name=endpoint_name,
        deleted_configs=tuple(deleted_configs),
        deleted_models=tuple(deleted_models),
        kept_configs=tuple(kept),
        in_use_configs=tuple(ours_in_use),
        models_skipped=models_skipped,
    )


def _deleted_so_far(configs: list[str], models: list[str]) -> str:
    if not configs and not models:
        return ""
    return f" (already deleted: configs {configs or 'none'}, models {models or 'none'})"


def _pages(sagemaker: SageMakerClient, operation: str, key: str, **params: Any) -> Iterable[Any]:
    with aws_errors(_action(operation)):
        for page in sagemaker.get_paginator(operation).paginate(**params):
            yield from page.get(key, [])


def _action(operation: str) -> str:
    """``list_endpoint_configs`` -> ``ListEndpointConfigs`` (the API's name, for messages)."""
    return "".join(part.capitalize() for part in operation.split("_"))


def _endpoint_uses(sagemaker: SageMakerClient) -> list[_EndpointUse]:
    """Every endpoint in the account (region) with its status and the configs it uses."""
    uses = []
    names = [
        summary["EndpointName"] for summary in _pages(sagemaker, "list_endpoints", "Endpoints")
    ]
    for name in names:
        described = _describe(sagemaker, "describe_endpoint", "EndpointName", name)
        if described is None:  # deleted since it was listed
            continue
        pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
        configs = tuple(c for c in (described.get("EndpointConfigName"), pending) if c)
        uses.append(_EndpointUse(name, str(described.get("EndpointStatus")), configs))
    return uses


def _our_configs(sagemaker: SageMakerClient, config_prefix: str) -> dict[str, datetime]:
    """The endpoint's configurations (see :func:`config_pattern`) and their CreationTime."""
    pattern = config_pattern(config_prefix)
    return {
        summary["EndpointConfigName"]: summary["CreationTime"]
        for summary in _pages(
            sagemaker, "list_endpoint_configs", "EndpointConfigs", NameContains=config_prefix
        )
        if pattern.fullmatch(summary["EndpointConfigName"])
    }


def _models_of(sagemaker: SageMakerClient, configs: Iterable[str]) -> list[str]:
    """The models ``configs`` reference (configs that are gone reference nothing)."""
    models: list[str] = []
    for config in configs:
        described = _describe(sagemaker, "describe_endpoint_config", "EndpointConfigName", config)
        if described is not None:
            models += [model for model in _referenced(described) if model not in models]
    return models


def _protected_models(
    sagemaker: SageMakerClient, configs: Iterable[str]
) -> tuple[set[str], list[str]]:
    """The models ``configs`` reference, and the configs that could not be described."""
    models: set[str] = set()
    unknown: list[str] = []
    for config in configs:
        described = _describe(sagemaker, "describe_endpoint_config", "EndpointConfigName", config)
        if described is None:
            unknown.append(config)
        else:
            models.update(_referenced(described))
    return models, unknown


def _referenced(described: dict[str, Any]) -> list[str]:
    return [
        variant["ModelName"]
        for kind in VARIANT_KINDS
        for variant in described.get(kind) or []
        if variant.get("ModelName")
    ]


def _not_found(error: ClientError) -> bool:
    """SageMaker's answer for a missing endpoint, config or model (a ValidationException)."""
    message = error_message(error)
    return error_code(error) in {"ValidationException", "ResourceNotFound"} and (
        "Could not find" in message or "does not exist" in message
    )


def _describe(
    sagemaker: SageMakerClient, operation: str, key: str, name: str
) -> dict[str, Any] | None:
    """The description of ``name``, or None when it does not exist (any more)."""
    try:
        return dict(getattr(sagemaker, operation)(**{key: name}))
    except ClientError as error:
        if _not_found(error):
            return None
        raise failed(f"{_action(operation)} '{name}'", error) from error


def _delete(sagemaker: SageMakerClient, operation: str, key: str, name: str) -> bool:
    """Delete ``name``; False when it was gone already."""
    try:
        getattr(sagemaker, operation)(**{key: name})
    except ClientError as error:
        if _not_found(error):
            return False
        raise failed(f"{_action(operation)} '{name}'", error) from error
    return True
