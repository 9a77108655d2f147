"""What changed between two offline plans, grouped the way ``pulumi preview`` groups it.

Resources are matched by URN. A resource in both plans whose inputs differ is *changed* (``~``),
or *replaced* (``+-``) when a changed input is one that forces replacement for its type
(:data:`FORCES_REPLACEMENT`); a resource only in the new plan is *added* (``+``), one only in the
old plan *deleted* (``-``). A resource whose URN changed while its logical name stayed (its type or
its parent changed) is shown as one replacement rather than an unrelated delete and add: without
an alias, that is what ``pulumi up`` does to it.

The replacement table is ours, curated from the AWS provider's "forces new resource" arguments
for the types this platform deploys; ``pulumi preview`` against the real state is the authority.
Replacing or deleting a *stateful* resource (:data:`STATEFUL_TYPES`, or one the plan marks
``protect`` or ``retain_on_delete``) loses data or identity; those entries are flagged.

Standard library only: the diff reads two ``build/plan/<stack>.json`` documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Every input of the type forces replacement, except the ones listed after it.
ALL_INPUTS = "*"

#: Per resource type, the input paths whose change replaces the resource (dotted paths into the
#: inputs; a change at, under or above a path counts). ``("*", exceptions...)`` means every input
#: but the exceptions. From the AWS provider's ForceNew arguments; types not listed replace only
#: on a URN change (dynamic providers decide in their own ``diff``).
FORCES_REPLACEMENT: dict[str, tuple[str, ...]] = {
    # Storage and keys.
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:s3/bucketV2:BucketV2": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:s3/bucketVersioning:BucketVersioning": ("bucket", "expectedBucketOwner"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket",
        "expectedBucketOwner",
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("bucket",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("bucket",),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "bucket",
        "expectedBucketOwner",
    ),
    "aws:s3/bucketLogging:BucketLogging": ("bucket", "expectedBucketOwner"),
    "aws:s3/bucketPolicy:BucketPolicy": ("bucket",),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("bucket", "key"),
    "aws:kms/key:Key": (
        "customerMasterKeySpec",
        "keySpec",
        "keyUsage",
        "multiRegion",
        "customKeyStoreId",
        "xksKeyId",
    ),
    "aws:kms/alias:Alias": ("name", "namePrefix"),
    "aws:kms/grant:Grant": (ALL_INPUTS,),
    "aws:rds/instance:Instance": (
        "identifier",
        "identifierPrefix",
        "engine",
        "storageEncrypted",
        "kmsKeyId",
        "dbSubnetGroupName",
        "dbName",
        "username",
        "availabilityZone",
        "characterSetName",
        "ncharCharacterSetName",
        "snapshotIdentifier",
        "timezone",
        "customIamInstanceProfile",
    ),
    "aws:glue/catalogDatabase:CatalogDatabase": ("name", "catalogId"),
    "aws:athena/workgroup:Workgroup": ("name",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "namePrefix", "logGroupClass"),
    "aws:ecr/repository:Repository": ("name", "encryptionConfigurations"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("repository",),
    # SageMaker.
    "aws:sagemaker/featureGroup:FeatureGroup": (
        ALL_INPUTS,
        "onlineStoreConfig.ttlDuration",
        "throughputConfig",
        "tags",
        "tagsAll",
    ),
    "aws:sagemaker/model:Model": (ALL_INPUTS, "tags", "tagsAll"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": (ALL_INPUTS, "tags", "tagsAll"),
    "aws:sagemaker/endpoint:Endpoint": ("name",),
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": (
        "modelPackageGroupName",
        "modelPackageGroupDescription",
    ),
    "aws:sagemaker/pipeline:Pipeline": ("pipelineName",),
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": ("trackingServerName",),
    "aws:sagemaker/mlflowApp:MlflowApp": ("name",),
    "aws:sagemaker/domain:Domain": ("domainName", "authMode", "vpcId", "kmsKeyId"),
    "aws:sagemaker/userProfile:UserProfile": ("domainId", "userProfileName"),
    "aws:sagemaker/notebookInstance:NotebookInstance": (
        "name",
        "subnetId",
        "securityGroups",
        "kmsKeyId",
        "directInternetAccess",
        "platformIdentifier",
    ),
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration": (
        "name",
    ),
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": (
        ALL_INPUTS,
        "tags",
        "tagsAll",
    ),
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": ("name",),
    # Network.
    "aws:ec2/vpc:Vpc": ("cidrBlock", "instanceTenancy", "ipv4IpamPoolId"),
    "aws:ec2/subnet:Subnet": ("vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "namePrefix", "description", "vpcId"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("securityGroupId",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("securityGroupId",),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("vpcId", "serviceName", "vpcEndpointType"),
    "aws:ec2/routeTable:RouteTable": ("vpcId",),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("subnetId", "gatewayId"),
    "aws:ec2/flowLog:FlowLog": (ALL_INPUTS, "tags", "tagsAll"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("name", "namePrefix"),
    "aws:autoscaling/group:Group": ("name", "namePrefix"),
    # Identity.
    "aws:iam/role:Role": ("name", "namePrefix", "path"),
    "aws:iam/rolePolicy:RolePolicy": ("name", "namePrefix", "role"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", "policyArn"),
    "aws:iam/instanceProfile:InstanceProfile": ("name", "namePrefix", "path"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("url",),
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": ("awsServiceName", "customSuffix"),
    # Events, alarms, notifications, schedules.
    "aws:sns/topic:Topic": ("name", "namePrefix", "fifoTopic"),
    "aws:sns/topicPolicy:TopicPolicy": ("arn",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name",),
    "aws:cloudwatch/eventRule:EventRule": ("name", "namePrefix", "eventBusName"),
    "aws:cloudwatch/eventTarget:EventTarget": ("rule", "targetId", "eventBusName"),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName",),
    "aws:scheduler/schedule:Schedule": ("name", "namePrefix", "groupName"),
    "aws:scheduler/scheduleGroup:ScheduleGroup": ("name", "namePrefix"),
    "aws:appautoscaling/target:Target": ("resourceId", "scalableDimension", "serviceNamespace"),
    "aws:appautoscaling/policy:Policy": (
        "name",
        "resourceId",
        "scalableDimension",
        "serviceNamespace",
    ),
    # EKS and Kubernetes.
    "aws:eks/cluster:Cluster": (
        "name",
        "roleArn",
        "kubernetesNetworkConfig",
        "outpostConfig",
        "bootstrapSelfManagedAddons",
        "vpcConfig.securityGroupIds",
    ),
    "aws:eks/nodeGroup:NodeGroup": (
        "clusterName",
        "nodeGroupName",
        "nodeGroupNamePrefix",
        "nodeRoleArn",
        "subnetIds",
        "amiType",
        "capacityType",
        "diskSize",
        "instanceTypes",
        "remoteAccess",
    ),
    "aws:eks/addon:Addon": ("clusterName", "addonName"),
    "aws:efs/fileSystem:FileSystem": ("creationToken", "encrypted", "kmsKeyId", "performanceMode"),
    "random:index/randomPassword:RandomPassword": (ALL_INPUTS,),
    "kubernetes:helm.sh/v3:Release": ("name", "namespace"),
    "kubernetes:apps/v1:Deployment": ("spec.selector",),
    "kubernetes:apps/v1:StatefulSet": (
        "spec.selector",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
        "spec.podManagementPolicy",
    ),
    "kubernetes:storage.k8s.io/v1:StorageClass": (
        "provisioner",
        "parameters",
        "reclaimPolicy",
        "volumeBindingMode",
    ),
    "kubernetes:core/v1:Secret": ("type",),
    "kubernetes:core/v1:Service": ("spec.clusterIP", "spec.clusterIPs"),
}

#: Every Kubernetes object is replaced when its name or namespace changes.
KUBERNETES_IDENTITY = ("metadata.name", "metadata.namespace")

#: Types whose replacement or deletion loses data or an identity others hold on to (a key's
#: ciphertexts, a bucket's objects, a registry's versions, a log group's events, ...).
STATEFUL_TYPES = frozenset(
    {
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:kms/key:Key",
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:dynamodb/table:Table",
        "aws:efs/fileSystem:FileSystem",
        "aws:ecr/repository:Repository",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:glue/catalogDatabase:CatalogDatabase",
        "aws:glue/catalogTable:CatalogTable",
        "aws:eks/cluster:Cluster",
        "aws:secretsmanager/secret:Secret",
        "aws:sagemaker/featureGroup:FeatureGroup",
        "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer",
        "aws:sagemaker/mlflowApp:MlflowApp",
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:sagemaker/domain:Domain",
        "aws:sagemaker/notebookInstance:NotebookInstance",
        "random:index/randomPassword:RandomPassword",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:apps/v1:StatefulSet",
    }
)

#: Resource options compared besides the inputs; a change shows as ``[option]``.
COMPARED_OPTIONS = ("protect", "retain_on_delete", "delete_before_replace", "provider")


@dataclass(frozen=True)
class ResourceChange:
    """One resource in a diff: what it is and which of its inputs changed."""

    urn: str
    """The resource's URN (the new one when a replacement changed it)."""
    type: str
    """The resource type token (the new one when a replacement changed it)."""
    name: str
    """The resource's logical name."""
    paths: tuple[str, ...] = ()
    """Changed input paths (``a.b[0].c``), and ``[option]`` for changed resource options."""
    replace_paths: tuple[str, ...] = ()
    """The changed paths that force the replacement (empty for adds, deletes, updates)."""
    reason: str = ""
    """Why a replacement is one when no input forces it (a changed type or parent)."""
    stateful: bool = False
    """Replacing or deleting it loses data or identity (only set for replacements, deletions)."""

    def as_json(self) -> dict[str, Any]:
        """The JSON form (``--json``): only the fields that mean something for this change."""
        data: dict[str, Any] = {"urn": self.urn, "type": self.type, "name": self.name}
        if self.paths:
            data["paths"] = list(self.paths)
        if self.replace_paths:
            data["replace_paths"] = list(self.replace_paths)
        if self.reason:
            data["reason"] = self.reason
        if self.stateful:
            data["stateful"] = True
        return data


@dataclass
class PlanDiff:
    """Every resource that differs between two plans, by kind, in the new plan's tree order."""

    added: list[ResourceChange] = field(default_factory=list)
    """Only in the new plan (``+``)."""
    changed: list[ResourceChange] = field(default_factory=list)
    """In both, updated in place (``~``)."""
    replaced: list[ResourceChange] = field(default_factory=list)
    """In both, replaced (``+-``)."""
    deleted: list[ResourceChange] = field(default_factory=list)
    """Only in the old plan (``-``)."""
    unchanged: int = 0
    """How many resources are the same in both."""

    @property
    def empty(self) -> bool:
        """Nothing added, changed, replaced or deleted."""
        return not (self.added or self.changed or self.replaced or self.deleted)

    def as_json(self) -> dict[str, Any]:
        """``{"added": [...], "changed": [...], "replaced": [...], "deleted": [...]}``."""
        return {
            "added": [change.as_json() for change in self.added],
            "changed": [change.as_json() for change in self.changed],
            "replaced": [change.as_json() for change in self.replaced],
            "deleted": [change.as_json() for change in self.deleted],
            "unchanged": self.unchanged,
        }


def diff_plans(
    old: Sequence[Mapping[str, Any]] | None, new: Sequence[Mapping[str, Any]]
) -> PlanDiff:
    """The diff from the ``old`` plan's resources to the ``new`` one's (None: no old plan)."""
    old_by_urn = {entry["urn"]: entry for entry in old or ()}
    new_by_urn = {entry["urn"]: entry for entry in new}
    result = PlanDiff()
    moved = _moved(
        [entry for urn, entry in old_by_urn.items() if urn not in new_by_urn],
        [entry for urn, entry in new_by_urn.items() if urn not in old_by_urn],
    )
    moved_from = {new_urn: old_entry for new_urn, old_entry in moved.items()}
    moved_old = {old_entry["urn"] for old_entry in moved.values()}
    for urn, entry in new_by_urn.items():
        before = old_by_urn.get(urn)
        if before is None and urn in moved_from:
            before = moved_from[urn]
            reason = (
                f"type changed from {before['type']}"
                if before["type"] != entry["type"]
                else "parent changed"
            )
            result.replaced.append(
                _change(entry, _changed_paths(before, entry), (), reason, _stateful(before, entry))
            )
        elif before is None:
            result.added.append(_change(entry))
        else:
            paths = _changed_paths(before, entry)
            if not paths:
                result.unchanged += 1
                continue
            forcing = tuple(path for path in paths if forces_replacement(entry["type"], path))
            if forcing:
                result.replaced.append(_change(entry, paths, forcing, "", _stateful(before, entry)))
            else:
                result.changed.append(_change(entry, paths))
    for urn, entry in old_by_urn.items():
        if urn not in new_by_urn and urn not in moved_old:
            result.deleted.append(_change(entry, stateful=_stateful(entry)))
    return result


def forces_replacement(resource_type: str, path: str) -> bool:
    """Whether a change at input ``path`` replaces a resource of ``resource_type``."""
    if path.startswith("["):  # a resource option, not an input
        return False
    rules = FORCES_REPLACEMENT.get(resource_type, ())
    if resource_type.startswith("kubernetes:") and not resource_type.startswith(
        "kubernetes:helm.sh/"
    ):
        rules = (*rules, *KUBERNETES_IDENTITY)
    if rules[:1] == (ALL_INPUTS,):
        return not any(_related(path, exception, under_only=True) for exception in rules[1:])
    return any(_related(path, rule) for rule in rules)


def is_stateful(entry: Mapping[str, Any]) -> bool:
    """A stateful type, or a resource the plan protects or retains on delete."""
    return bool(
        entry.get("type") in STATEFUL_TYPES or entry.get("protect") or entry.get("retain_on_delete")
    )


def input_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The paths where ``old`` and ``new`` (JSON values) differ: ``a.b[2].c``.

    Lists of equal length are compared item by item; a list that changed length is one change
    at its own path (items shifting would otherwise list every later item).
    """
    if isinstance(old, dict) and isinstance(new, dict):
        paths: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            child = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                paths.append(child)
            else:
                paths += input_paths(old[key], new[key], child)
        return paths
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        paths = []
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            paths += input_paths(before, after, f"{prefix}[{index}]")
        return paths
    if old == new and type(old) is type(new):
        return []
    return [prefix]


def layer_of(urn: str, entries: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The layer (top-level component's name) ``urn`` belongs to in a plan (None: no layer).

    ``entries`` maps URNs to plan entries; a top-level custom resource (a provider) has no
    layer.
    """
    entry = entries.get(urn)
    while entry is not None and entry.get("parent"):
        entry = entries.get(entry["parent"])
    if entry is None or entry.get("custom"):
        return None
    return str(entry["name"])


def in_layers(
    entries: Iterable[Mapping[str, Any]], layers: Iterable[str]
) -> list[Mapping[str, Any]]:
    """The plan entries that belong to one of ``layers``."""
    entries = list(entries)
    by_urn = {entry["urn"]: entry for entry in entries}
    wanted = set(layers)
    return [entry for entry in entries if layer_of(entry["urn"], by_urn) in wanted]


def summary_line(diff: PlanDiff) -> str:
    """``Resources: + 1 to create, ~ 2 to update, +- 1 to replace, - 0 to delete, 9 unchanged``."""
    return (
        f"Resources: + {len(diff.added)} to create, ~ {len(diff.changed)} to update, "
        f"+- {len(diff.replaced)} to replace, - {len(diff.deleted)} to delete, "
        f"{diff.unchanged} unchanged"
    )


def _change(
    entry: Mapping[str, Any],
    paths: Sequence[str] = (),
    replace_paths: Sequence[str] = (),
    reason: str = "",
    stateful: bool = False,
) -> ResourceChange:
    return ResourceChange(
        urn=str(entry["urn"]),
        type=str(entry["type"]),
        name=str(entry["name"]),
        paths=tuple(paths),
        replace_paths=tuple(replace_paths),
        reason=reason,
        stateful=stateful,
    )


def _changed_paths(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Changed inputs (less those the new resource ignores) and changed resource options."""
    ignored = new.get("ignore_changes") or []
    paths = [
        path
        for path in input_paths(old.get("inputs") or {}, new.get("inputs") or {})
        if not any(_related(path, rule, under_only=True) for rule in ignored)
    ]
    paths += [f"[{option}]" for option in COMPARED_OPTIONS if old.get(option) != new.get(option)]
    return paths


def _related(path: str, rule: str, *, under_only: bool = False) -> bool:
    """``path`` is ``rule``, lies under it, or (unless ``under_only``) lies above it."""
    if path == rule or path.startswith((f"{rule}.", f"{rule}[")):
        return True
    return not under_only and rule.startswith((f"{path}.", f"{path}["))


def _stateful(*entries: Mapping[str, Any]) -> bool:
    return any(is_stateful(entry) for entry in entries)


def _moved(
    gone: Sequence[Mapping[str, Any]], came: Sequence[Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    """New URN -> old entry, for resources whose logical name is the only one of its kind.

    A name that appears once among the vanished and once among the new resources, both custom
    or both components, is one resource whose type or parent changed.
    """
    gone_names = Counter((entry["name"], entry["custom"]) for entry in gone)
    came_names = Counter((entry["name"], entry["custom"]) for entry in came)
    old_by_name = {(entry["name"], entry["custom"]): entry for entry in gone}
    return {
        entry["urn"]: old_by_name[(entry["name"], entry["custom"])]
        for entry in came
        if came_names[(entry["name"], entry["custom"])] == 1
        and gone_names[(entry["name"], entry["custom"])] == 1
    }
