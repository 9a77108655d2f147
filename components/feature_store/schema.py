"""FeatureSchema: evolve a live feature group's schema without ever replacing it.

pulumi-aws replaces a ``FeatureGroup`` when its feature definitions change, which deletes the online
store and orphans the offline data. So the
:class:`~components.feature_store.layer.FeatureStoreLayer` creates each group with
``ignore_changes`` on every field that would replace it, and this resource (a Pulumi dynamic
provider) owns those fields instead:

* **Adding features** is applied in place with SageMaker's UpdateFeatureGroup ``FeatureAdditions``:
  the group, its online records and its offline data stay.
* **Anything else** (removing, renaming or retyping a feature, changing the record identifier or
  event time, the store settings or the description) fails ``pulumi preview`` / ``pulumi up`` in
  this resource's diff, before any resource changes, with a message naming each change and saying
  to add a new version of the group instead. A new version is a new feature group next to the old
  one, so nothing is lost by accident.

The provider reconciles against the live group (DescribeFeatureGroup), not only against the last
deployed inputs, so additions that were ever skipped are applied on the next ``pulumi up``.
It needs boto3 and the deployer's AWS credentials at deploy time, like pulumi-aws itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from workloads.features.definitions import FeatureGroupDefinition, schema_change

#: Inputs that are fixed for a group version (they would replace the group).
FIXED_SETTINGS = ("online_store", "storage_type", "offline_store", "table_format", "description")

#: How long an UpdateFeatureGroup may take before the deploy fails (AWS applies it in seconds).
UPDATE_TIMEOUT_SECONDS = 900
_POLL_SECONDS = 5.0


class SchemaChangeRefused(Exception):
    """A definition change that would replace a live feature group (and lose its data)."""


def refused_changes(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Every change from ``olds`` to ``news`` that cannot be applied in place.

    ``olds``/``news`` are this resource's inputs; the list is empty when the change only adds
    features or changes nothing.
    """
    old = FeatureGroupDefinition.from_mapping(olds["definition"])
    new = FeatureGroupDefinition.from_mapping(news["definition"])
    problems = list(schema_change(old, new).problems)
    where = f"feature group '{new.name}' v{new.version}"
    before, after = olds.get("settings", {}), news.get("settings", {})
    for setting in FIXED_SETTINGS:
        if before.get(setting) != after.get(setting):
            problems.append(
                f"{where}: {setting} changed from {before.get(setting)!r} to "
                f"{after.get(setting)!r}, which SageMaker cannot change on a live "
                f"group; add version {new.version + 1} of '{new.name}' with the new setting "
                "instead"
            )
    return problems


def reconcile(
    client: Any,
    group_name: str,
    definition: Mapping[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Add to the live group ``group_name`` the features of ``definition`` it lacks.

    Refuses (``SchemaChangeRefused``) when the live group has a feature the definition lost or
    retyped. Waits until SageMaker reports the update successful; returns the added names.
    """
    live = client.describe_feature_group(FeatureGroupName=group_name)
    change = schema_change(
        FeatureGroupDefinition.from_describe(live), FeatureGroupDefinition.from_mapping(definition)
    )
    if change.problems:
        raise SchemaChangeRefused("\n".join(change.problems))
    if not change.additions:
        return []
    client.update_feature_group(
        FeatureGroupName=group_name,
        FeatureAdditions=[
            {"FeatureName": feature.name, "FeatureType": feature.type}
            for feature in change.additions
        ],
    )
    wait_for_update(client, group_name, sleep=sleep)
    return [feature.name for feature in change.additions]


def wait_for_update(
    client: Any,
    group_name: str,
    *,
    timeout: float = UPDATE_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll DescribeFeatureGroup until the last update succeeded.

    Raises with AWS's reason if it failed, or if it did not finish within ``timeout`` seconds.
    """
    waited = 0.0
    while True:
        status = client.describe_feature_group(FeatureGroupName=group_name).get(
            "LastUpdateStatus", {}
        )
        if status.get("Status") == "Successful":
            return
        if status.get("Status") == "Failed":
            raise RuntimeError(
                f"UpdateFeatureGroup of '{group_name}' failed: "
                f"{status.get('FailureReason', 'no reason given')}"
            )
        if waited >= timeout:
            raise TimeoutError(
                f"UpdateFeatureGroup of '{group_name}' still {status.get('Status')!r} "
                f"after {timeout:.0f} s"
            )
        sleep(_POLL_SECONDS)
        waited += _POLL_SECONDS


def sagemaker_client(region: str) -> Any:
    """A SageMaker client for ``region`` with the deployer's credentials.

    boto3 is imported here, lazily: only deploys that touch a schema need it.
    """
    import boto3

    return boto3.client("sagemaker", region_name=region)


def _state(props: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in props.items() if not key.startswith("__")}


class FeatureSchemaProvider(ResourceProvider):
    """The dynamic provider behind :class:`FeatureSchema` (see the module docstring)."""

    # Nothing secret is captured, so the serialized provider need not be stored as a secret.
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Bring the just-created (or adopted) group up to the definition."""
        reconcile(sagemaker_client(props["region"]), props["group_name"], props["definition"])
        return CreateResult(id_=props["group_name"], outs=_state(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Refuse, with every reason, a change that would need the group replaced."""
        problems = refused_changes(olds, news)
        if problems:
            raise SchemaChangeRefused(
                "refusing a feature-group change that would replace the group and delete its "
                "online store:\n  - " + "\n  - ".join(problems)
            )
        changed = _state(olds) != _state(news)
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Apply the added features to the live group."""
        reconcile(sagemaker_client(news["region"]), news["group_name"], news["definition"])
        return UpdateResult(outs=_state(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: the group itself belongs to its FeatureGroup resource."""


class FeatureSchema(pulumi.dynamic.Resource, module="featurestore", name="FeatureSchema"):
    """The schema of one live feature group version, evolved only by adding features."""

    def __init__(
        self,
        name: str,
        *,
        group_name: pulumi.Input[str],
        region: str,
        definition: FeatureGroupDefinition,
        settings: Mapping[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> None:
        """``settings`` are the group's fixed store settings (:data:`FIXED_SETTINGS`)."""
        unknown = set(settings) ^ set(FIXED_SETTINGS)
        if unknown:
            raise ValueError(f"settings must name exactly {FIXED_SETTINGS}, not {sorted(unknown)}")
        super().__init__(
            FeatureSchemaProvider(),
            name,
            {
                "group_name": group_name,
                "region": region,
                "definition": definition.to_mapping(ordered=True),
                "settings": dict(settings),
            },
            opts,
        )
