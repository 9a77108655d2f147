"""The recording mock runtime: runs the real program offline and records what it would create.

``make plan`` and the tests share this one harness. It plugs into Pulumi's documented unit-test
hook (``pulumi.runtime.set_mocks``) with two additions:

* :class:`RecordingMonitor` keeps every registration request as the engine would receive it:
  URN (built by the engine's rule, not the mock's), parent, provider, the resolved inputs and the
  options the engine sees (``protect``, ``retain_on_delete``, ...).
* :class:`PlatformMocks` answers data-source invokes and fills resource outputs with realistic,
  deterministic values (ARNs, ids, auto-generated names) so the program's ``apply`` calls see the
  shapes they would see in AWS. What a type computes beyond its inputs is one entry of the
  ``_OUTPUTS`` table (and of ``_ARN_TEMPLATES`` where its ARN has a shape of its own).

Inputs are recorded with the provider's property names (camelCase), as in ``pulumi stack export``
and ``pulumi preview --json``; integral numbers come back from protobuf as floats and are shown as
integers.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings

from stacks.layers import PROJECT

#: The account id every mocked AWS answer uses (AWS's documentation example account).
MOCK_ACCOUNT_ID = "123456789012"

_STACK_TYPE = "pulumi:pulumi:Stack"

# The property that Pulumi auto-names for a type when the program leaves it unset, so outputs
# carry the physical name AWS would report.
_AUTONAMED = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:iam/role:Role": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:iam/policy:Policy": "name",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:sagemaker/model:Model": "name",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": "name",
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration": (
        "name"
    ),
    "aws:sns/topic:Topic": "name",
    "aws:ec2/launchTemplate:LaunchTemplate": "name",
    "aws:autoscaling/group:Group": "name",
    "aws:iam/instanceProfile:InstanceProfile": "name",
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": "name",
    "aws:eks/cluster:Cluster": "name",
    "aws:eks/nodeGroup:NodeGroup": "nodeGroupName",
    "aws:rds/instance:Instance": "identifier",
    "aws:rds/subnetGroup:SubnetGroup": "name",
    "aws:rds/parameterGroup:ParameterGroup": "name",
}

# The accounts that publish SageMaker's prebuilt images in us-east-1 (the registry path's
# account differs per region and repository family; the shape is what matters offline).
_PREBUILT_REGISTRY = {"pytorch-inference": "763104351884", "pytorch-training": "763104351884"}
_SAGEMAKER_REGISTRY = "683313688378"

# ARN resource types SageMaker uses, where they differ from the Pulumi type's name.
_SAGEMAKER_ARN_KIND = {
    "endpointConfiguration": "endpoint-config",
    "mlflowTrackingServer": "mlflow-tracking-server",
    "notebookInstance": "notebook-instance",
    "notebookInstanceLifecycleConfiguration": "notebook-instance-lifecycle-config",
    "userProfile": "user-profile",
    "featureGroup": "feature-group",
    "dataQualityJobDefinition": "data-quality-job-definition",
    "monitoringSchedule": "monitoring-schedule",
    "modelPackageGroup": "model-package-group",
}

# The property holding a type's physical name where it is not ``name``.
_NAME_PROPERTY = {
    "aws:sagemaker/domain:Domain": "domainName",
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": "trackingServerName",
    "aws:sagemaker/pipeline:Pipeline": "pipelineName",
    "aws:sagemaker/userProfile:UserProfile": "userProfileName",
    "aws:sagemaker/featureGroup:FeatureGroup": "featureGroupName",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": "modelPackageGroupName",
}

#: The type prefix of Pulumi dynamic-provider resources (``pulumi.dynamic.Resource``); they run
#: in the program's own provider, so the stack's AWS provider does not apply to them.
DYNAMIC_TYPE_PREFIX = "pulumi-python:dynamic"

# Resource id prefixes AWS uses, so ids in the plan look like the ones in the console.
_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
    "aws:ec2/flowLog:FlowLog": "fl-",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
}

# The name AWS gives a service's service-linked role after "AWSServiceRoleFor".
_SERVICE_LINKED_ROLE_SUFFIX = {"autoscaling.amazonaws.com": "AutoScaling"}

#: What ``aws.ec2.get_ami`` finds offline: a deep-learning AMI of the shape AWS publishes.
_MOCK_AMI = {
    "architecture": "x86_64",
    "rootDeviceName": "/dev/sda1",
    "rootDeviceType": "ebs",
    "virtualizationType": "hvm",
    "ownerId": "898082745236",
    "imageOwnerAlias": "amazon",
    "state": "available",
    "public": True,
}

#: The prefix list AWS publishes for S3 in us-east-1; any realistic value will do offline.
_S3_PREFIX_LIST_ID = "pl-63a5400a"

#: The address ranges of that prefix list (S3's public ranges in us-east-1).
_S3_PREFIX_LIST_CIDRS = ("3.5.0.0/19", "16.15.192.0/18", "18.34.0.0/19", "52.216.0.0/15")

#: Packages whose default providers the stacks disable; resources of others (random) may use
#: their default provider.
_EXPLICIT_PROVIDER_PACKAGES = ("aws", "kubernetes")


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def normalize(value: Any) -> Any:
    """Turn protobuf's floats back into ints where they are integral, and sort mapping keys.

    Keys arrive in the order outputs happened to resolve; sorting makes plans byte-stable.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        # As `pulumi stack export` shows a file asset: its path (relative to the project).
        kind = "asset" if isinstance(value, pulumi.FileAsset) else "archive"
        return {kind: {"path": str(value.path)}}
    if isinstance(value, Mapping):
        return {key: normalize(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value]
    return value


def _engine_urn(stack: str, parent: str, type_: str, name: str) -> str:
    """Build a URN the way the engine does (deployment.go ``generateURN``).

    Children carry the parent's full qualified type joined by ``$``; children of the root stack
    carry none. (The SDK's mock keeps only the parent's last type and prefixes the stack's.)
    """
    qualified = type_
    if parent:
        parent_type = parent.split("::")[2]
        if parent_type != _STACK_TYPE:
            qualified = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{PROJECT}::{qualified}::{name}"


@dataclass
class RecordedResource:
    """One resource registration as the engine would receive it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    inputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    depends_on: list[str]
    outputs: dict[str, Any] = field(default_factory=dict)

    def as_plan_entry(self) -> dict[str, Any]:
        """The entry for this resource in ``build/plan/<stack>.json``."""
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "provider": self.provider,
            "inputs": self.inputs,
            "protect": self.protect,
            "retain_on_delete": self.retain_on_delete,
            "delete_before_replace": self.delete_before_replace,
            "ignore_changes": self.ignore_changes,
            "depends_on": self.depends_on,
        }


def _require_explicit_provider(what: str, provider: str | None) -> None:
    """Fail like the engine does when the stack disables default providers and none is given."""
    if not provider:
        raise ValueError(
            f"{what} has no explicit provider: the stacks set pulumi:disable-default-providers, "
            "so pass the stack's provider (opts parent/providers)"
        )


class PlatformMocks(pulumi.runtime.Mocks):
    """Realistic answers for the AWS data sources and resource outputs the program reads."""

    def __init__(self, region: str, account_id: str = MOCK_ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id
        self.partition = "aws-cn" if region.startswith("cn-") else "aws"
        if region.startswith("us-gov-"):
            self.partition = "aws-us-gov"

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        """Answer a data-source invoke; an unknown one fails loudly rather than return nothing."""
        token = args.token
        _require_explicit_provider(f"the invoke '{token}'", args.provider)
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:{self.partition}:iam::{self.account_id}:user/platform-engineer",
                "userId": "AIDAEXAMPLEUSERID",
                "id": self.account_id,
            }
        if token == "aws:index/getPartition:getPartition":
            suffix = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
            return {
                "partition": self.partition,
                "dnsSuffix": suffix,
                "reverseDnsPrefix": ".".join(reversed(suffix.split("."))),
                "id": self.partition,
            }
        if token == "aws:index/getRegion:getRegion":
            return {
                "name": self.region,
                "region": self.region,
                "id": self.region,
                "endpoint": f"ec2.{self.region}.amazonaws.com",
                "description": self.region,
            }
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abcdef"
            return {
                "names": [f"{self.region}{letter}" for letter in letters],
                "zoneIds": [f"use1-az{index + 1}" for index in range(len(letters))],
                "groupNames": [self.region] * len(letters),
                "id": self.region,
            }
        if token == "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage":
            repository = args.args["repositoryName"]
            tag = args.args.get("imageTag") or "1"
            region = args.args.get("region") or self.region
            registry = _PREBUILT_REGISTRY.get(repository, _SAGEMAKER_REGISTRY)
            return {
                "repositoryName": repository,
                "imageTag": tag,
                "region": region,
                "registryId": registry,
                "registryPath": f"{registry}.dkr.ecr.{region}.amazonaws.com/{repository}:{tag}",
                "id": registry,
            }
        if token == "aws:ec2/getPrefixList:getPrefixList":
            prefix_list_id = args.args.get("prefixListId") or _S3_PREFIX_LIST_ID
            return {
                "id": prefix_list_id,
                "prefixListId": prefix_list_id,
                "name": f"com.amazonaws.{self.region}.s3",
                "cidrBlocks": list(_S3_PREFIX_LIST_CIDRS),
            }
        if token == "aws:ec2/getAmi:getAmi":
            filters = {item["name"]: item["values"] for item in args.args.get("filters", [])}
            pattern = filters.get("name", ["ami"])[0]
            ami_id = f"ami-{_digest(pattern)}"
            return {
                **_MOCK_AMI,
                "id": ami_id,
                "imageId": ami_id,
                "name": pattern.replace("*", "20261101"),
                "arn": f"arn:{self.partition}:ec2:{self.region}::image/{ami_id}",
            }
        raise NotImplementedError(f"the mock runtime has no answer for the invoke '{token}'")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        """Return an id and outputs: the inputs plus what AWS would compute."""
        state = dict(args.inputs)
        if not args.custom:
            return None, state
        if args.typ.split(":")[0] in _EXPLICIT_PROVIDER_PACKAGES:
            _require_explicit_provider(f"{args.typ} '{args.name}'", args.provider)
        type_, name = args.typ, args.name
        autoname_property = _AUTONAMED.get(type_)
        if autoname_property and not state.get(autoname_property):
            state[autoname_property] = f"{name}-{_digest(name, length=7)}"
        created = _Creation(
            type=type_,
            name=name,
            state=state,
            resource_id=_ID_PREFIX.get(type_, "") + _digest(type_, name),
            physical=str(state.get(autoname_property or _NAME_PROPERTY.get(type_, "name")) or name),
        )
        add_outputs = _OUTPUTS.get(type_)
        if add_outputs:
            add_outputs(self, created)
        if type_.startswith((DYNAMIC_TYPE_PREFIX, "kubernetes:", "random:")):
            return created.resource_id, state
        state.setdefault("arn", self.arn(type_, created.physical, created.resource_id))
        return created.resource_id, state

    def arn(self, type_: str, physical: str, resource_id: str) -> str:
        """An ARN of the shape AWS gives this type (by its template, else by its service)."""
        partition, region, account = self.partition, self.region, self.account_id
        module, kind = type_.split(":")[1].split("/")[0], type_.split(":")[2]
        template = _ARN_TEMPLATES.get(type_)
        if template:
            return template.format(
                partition=partition,
                region=region,
                account=account,
                physical=physical,
                resource_id=resource_id,
            )
        if module == "iam":
            return f"arn:{partition}:iam::{account}:{kind[0].lower() + kind[1:]}/{physical}"
        if module == "sagemaker":
            kind = _SAGEMAKER_ARN_KIND.get(type_.split("/")[1].split(":")[0], kind.lower())
            # SageMaker ARNs carry the name in lower case.
            return f"arn:{partition}:sagemaker:{region}:{account}:{kind}/{physical.lower()}"
        if module in ("ec2", "vpc"):
            return f"arn:{partition}:ec2:{region}:{account}:{kind.lower()}/{resource_id}"
        return f"arn:{partition}:{module}:{region}:{account}:{kind.lower()}/{physical}"


# The ARN of each type whose shape the general rules in ``PlatformMocks.arn`` (by service) do not
# give. Fields: partition, region, account, physical (the name) and resource_id.
_ARN_TEMPLATES = {
    "aws:s3/bucket:Bucket": "arn:{partition}:s3:::{physical}",
    "aws:kms/key:Key": "arn:{partition}:kms:{region}:{account}:key/{resource_id}",
    "aws:kms/alias:Alias": "arn:{partition}:kms:{region}:{account}:{physical}",
    "aws:cloudwatch/logGroup:LogGroup": (
        "arn:{partition}:logs:{region}:{account}:log-group:{physical}"
    ),
    "aws:glue/catalogDatabase:CatalogDatabase": (
        "arn:{partition}:glue:{region}:{account}:database/{physical}"
    ),
    "aws:sns/topic:Topic": "arn:{partition}:sns:{region}:{account}:{physical}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "arn:{partition}:cloudwatch:{region}:{account}:alarm:{physical}"
    ),
    "aws:scheduler/scheduleGroup:ScheduleGroup": (
        "arn:{partition}:scheduler:{region}:{account}:schedule-group/{physical}"
    ),
}


@dataclass
class _Creation:
    """One custom resource being created: what its type's outputs read, and may change."""

    type: str
    """The Pulumi type token, e.g. ``aws:s3/bucket:Bucket``."""
    name: str
    """The resource's logical name in the program."""
    state: dict[str, Any]
    """The outputs so far: the inputs, plus the auto-generated name where Pulumi would make one."""
    resource_id: str
    """The id AWS would report; by default the type's id prefix and a digest."""
    physical: str
    """The physical name (what ARNs carry); by default the type's name property."""


def _bucket_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    created.resource_id = created.physical  # a bucket's id is its name
    created.state.update(
        bucketDomainName=f"{created.physical}.s3.amazonaws.com",
        bucketRegionalDomainName=f"{created.physical}.s3.{mocks.region}.amazonaws.com",
        region=mocks.region,
    )


def _kms_key_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    # A key id is a UUID: 8-4-4-4-12 hex digits.
    type_, name = created.type, created.name
    created.resource_id = (
        "-".join(_digest(type_, name, length=32)[i:j] for i, j in ((0, 8), (8, 12), (12, 16)))
        + f"-{_digest(name, length=4)}-{_digest(name, 'k', length=12)}"
    )
    created.state["keyId"] = created.resource_id


def _vpc_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    name = created.name
    created.state.update(
        defaultSecurityGroupId=f"sg-{_digest(name, 'default-sg')}",
        mainRouteTableId=f"rtb-{_digest(name, 'main')}",
        defaultRouteTableId=f"rtb-{_digest(name, 'main')}",
        defaultNetworkAclId=f"acl-{_digest(name, 'acl')}",
    )


def _vpc_endpoint_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    # Only a gateway endpoint (S3) is given a prefix list, for routes and security group rules.
    if created.state.get("vpcEndpointType") == "Gateway":
        created.state["prefixListId"] = _S3_PREFIX_LIST_ID


def _role_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    created.resource_id = created.physical  # IAM's id of a role is its name


def _service_linked_role_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    state = created.state
    service = state["awsServiceName"]
    role_name = "AWSServiceRoleFor" + _SERVICE_LINKED_ROLE_SUFFIX.get(
        service, service.split(".")[0].title()
    )
    if state.get("customSuffix"):
        role_name += f"_{state['customSuffix']}"
    state.update(name=role_name, path=f"/aws-service-role/{service}/")
    state["arn"] = (
        f"arn:{mocks.partition}:iam::{mocks.account_id}:role/aws-service-role/{service}/{role_name}"
    )


def _launch_template_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    created.state.update(latestVersion=1, defaultVersion=1)


def _topic_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    # A topic's id is its ARN.
    created.resource_id = mocks.arn(created.type, created.physical, created.resource_id)


def _glue_database_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    created.resource_id = f"{mocks.account_id}:{created.physical}"


def _ecr_repository_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    created.state.update(
        registryId=mocks.account_id,
        repositoryUrl=(
            f"{mocks.account_id}.dkr.ecr.{mocks.region}.amazonaws.com/{created.physical}"
        ),
    )


def _domain_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    # A domain is known by its generated id, and its ARNs carry that id.
    created.resource_id = created.physical = f"d-{_digest(created.type, created.name, length=12)}"
    created.state.update(
        url=f"https://{created.resource_id}.studio.{mocks.region}.sagemaker.aws",
        homeEfsFileSystemId=f"fs-{_digest(created.name, 'efs')}",
    )


def _user_profile_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    # A user profile's ARN names its domain: user-profile/<domain id>/<name>.
    created.physical = f"{created.state['domainId']}/{created.physical}"


def _notebook_instance_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    created.state["url"] = f"{created.physical}.notebook.{mocks.region}.sagemaker.aws"


def _tracking_server_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    created.state["trackingServerUrl"] = (
        f"https://t-{_digest(created.name, length=12)}.{mocks.region}.experiments.sagemaker.aws"
    )


def _mlflow_app_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    # An MLflow App is known by the id SageMaker generates, not its name: its id is its ARN,
    # arn:...:mlflow-app/app-<12 upper-case letters and digits> (e.g. app-K53I5ZJMEUHZ).
    app_id = f"app-{_digest(created.type, created.name, length=12).upper()}"
    created.resource_id = (
        f"arn:{mocks.partition}:sagemaker:{mocks.region}:{mocks.account_id}:mlflow-app/{app_id}"
    )
    created.state["arn"] = created.resource_id


def _feature_group_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    # SageMaker resolves the offline store's URI at creation (account, region, group).
    storage = (created.state.get("offlineStoreConfig") or {}).get("s3StorageConfig")
    if storage and storage.get("s3Uri"):
        storage["resolvedOutputS3Uri"] = (
            f"{storage['s3Uri']}/{mocks.account_id}/sagemaker/{mocks.region}/offline-store/"
            f"{created.physical}-1767225600/data"
        )


def _schedule_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    # A schedule lives in its group: id ``<group>/<name>``, ARN ``schedule/<group>/<name>``.
    group = created.state.get("groupName") or "default"
    created.resource_id = f"{group}/{created.physical}"
    created.state["arn"] = (
        f"arn:{mocks.partition}:scheduler:{mocks.region}:{mocks.account_id}"
        f":schedule/{created.resource_id}"
    )


def _eks_cluster_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    state, region = created.state, mocks.region
    oidc_id = _digest(created.type, created.name, length=32).upper()
    state.update(
        endpoint=f"https://{oidc_id}.gr7.{region}.eks.amazonaws.com",
        certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
        identities=[
            {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}]}
        ],
        platformVersion="eks.1",
        status="ACTIVE",
    )
    state.setdefault("vpcConfig", {})["clusterSecurityGroupId"] = (
        f"sg-{_digest(created.name, 'eks')}"
    )
    state["arn"] = (
        f"arn:{mocks.partition}:eks:{region}:{mocks.account_id}:cluster/{created.physical}"
    )


def _oidc_provider_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    host = str(created.state.get("url", "")).removeprefix("https://")
    created.state["arn"] = f"arn:{mocks.partition}:iam::{mocks.account_id}:oidc-provider/{host}"


def _db_instance_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    state, physical, region = created.state, created.physical, mocks.region
    address = f"{physical}.c{_digest(created.name, length=12)}.{region}.rds.amazonaws.com"
    port = state.get("port") or 5432
    state.update(address=address, endpoint=f"{address}:{port}", port=port)
    state["arn"] = f"arn:{mocks.partition}:rds:{region}:{mocks.account_id}:db:{physical}"


def _random_password_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    # Deterministic offline; only letters and digits so it is safe in any URL or file.
    state, name = created.state, created.name
    state["result"] = _digest(created.type, name, length=int(state.get("length") or 32))
    state["bcryptHash"] = "$2a$10$" + _digest(name, "bcrypt", length=53)


#: What AWS computes for each type beyond its inputs (ids, URLs, ARNs of a special shape). A type
#: not listed gets only the defaults: its id, its auto-generated name and an ARN by its service.
def _model_approval_outputs(mocks: PlatformMocks, created: _Creation) -> None:
    # What a passing check reports (offline nothing is described): the version is Approved; the
    # framework version it records is only known from AWS.
    created.resource_id = str(created.state.get("package_arn") or created.resource_id)
    created.state.update(approval_status="Approved", framework_version=None)


_OUTPUTS: dict[str, Callable[[PlatformMocks, _Creation], None]] = {
    "aws:s3/bucket:Bucket": _bucket_outputs,
    "aws:kms/key:Key": _kms_key_outputs,
    "aws:ec2/vpc:Vpc": _vpc_outputs,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint_outputs,
    "aws:iam/role:Role": _role_outputs,
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": _service_linked_role_outputs,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template_outputs,
    "aws:sns/topic:Topic": _topic_outputs,
    "aws:glue/catalogDatabase:CatalogDatabase": _glue_database_outputs,
    "aws:ecr/repository:Repository": _ecr_repository_outputs,
    "aws:sagemaker/domain:Domain": _domain_outputs,
    "aws:sagemaker/userProfile:UserProfile": _user_profile_outputs,
    "aws:sagemaker/notebookInstance:NotebookInstance": _notebook_instance_outputs,
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": _tracking_server_outputs,
    "aws:sagemaker/mlflowApp:MlflowApp": _mlflow_app_outputs,
    "aws:sagemaker/featureGroup:FeatureGroup": _feature_group_outputs,
    "aws:scheduler/schedule:Schedule": _schedule_outputs,
    "aws:eks/cluster:Cluster": _eks_cluster_outputs,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider_outputs,
    "aws:rds/instance:Instance": _db_instance_outputs,
    "random:index/randomPassword:RandomPassword": _random_password_outputs,
    f"{DYNAMIC_TYPE_PREFIX}/serving:ModelApproval": _model_approval_outputs,
}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock resource monitor that records each registration with its options."""

    def __init__(self, mocks: PlatformMocks, stack: str) -> None:
        super().__init__(mocks)
        self.stack = stack
        self.records: list[RecordedResource] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """Build URNs by the engine's rule so ``--target`` globs can be checked against them."""
        return _engine_urn(self.stack, parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:
        """Register as the SDK's mock does, then keep what the engine would have been told."""
        response = super().RegisterResource(request)
        if request.type == _STACK_TYPE:
            return response
        parent = request.parent or None
        if parent and parent.split("::")[2] == _STACK_TYPE:
            parent = None
        registration = self.resources.get(response.urn)
        self.records.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=parent,
                custom=request.custom,
                # A provider reference is "<provider urn>::<provider id>".
                provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
                inputs=_without_provider_code(
                    normalize(rpc.deserialize_properties(request.object))
                ),
                protect=request.HasField("protect") and request.protect,
                retain_on_delete=request.HasField("retainOnDelete") and request.retainOnDelete,
                delete_before_replace=request.deleteBeforeReplace,
                ignore_changes=list(request.ignoreChanges),
                depends_on=sorted(request.dependencies),
                outputs=normalize(dict(registration.state)) if registration else {},
            )
        )
        return response


def _without_provider_code(inputs: dict[str, Any]) -> dict[str, Any]:
    """Drop a dynamic resource's serialized provider (kilobytes of pickled code) from a record."""
    return {key: value for key, value in inputs.items() if key != "__provider"}


def tree_order(resources: Sequence[RecordedResource]) -> list[tuple[int, RecordedResource]]:
    """Resources depth-first from the top-level ones, with their depth; siblings by type, name."""
    children: dict[str | None, list[RecordedResource]] = defaultdict(list)
    for resource in resources:
        children[resource.parent].append(resource)
    ordered: list[tuple[int, RecordedResource]] = []

    def visit(parent: str | None, depth: int) -> None:
        for resource in sorted(children[parent], key=lambda r: (r.custom, r.type, r.name)):
            ordered.append((depth, resource))
            visit(resource.urn, depth + 1)

    visit(None, 0)
    return ordered


@dataclass
class PlanRun:
    """Everything one offline run of the program produced."""

    stack: str
    resources: list[RecordedResource]
    exports: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The document written to ``build/plan/<stack>.json``, resources in tree order."""
        return {
            "stack": self.stack,
            "project": PROJECT,
            "resources": [resource.as_plan_entry() for _, resource in tree_order(self.resources)],
            "exports": self.exports,
        }


def run_offline(
    stack: str,
    flat_config: Mapping[str, Any],
    program_function: Callable[[], Any] | None = None,
) -> PlanRun:
    """Run the real program for ``stack`` with ``flat_config`` under the recording mocks.

    ``flat_config`` is the stack's config as the engine passes it (``{"ml-platform:data":
    "<json>", "aws:region": "us-east-1", ...}``). Config errors propagate as the program raises
    them. ``program_function`` replaces the real program (tests of a single component); what it
    returns is taken as the exports.
    """
    from stacks.program import run_program  # the program imports pulumi-aws: import on use

    run_program_function = program_function or run_program

    region = str(flat_config.get("aws:region") or "us-east-1")
    mocks = PlatformMocks(region=region)
    monitor = RecordingMonitor(mocks, stack)
    # A fresh root stack per run, so runs in one process (the tests) do not share one.
    settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config({key: str(value) for key, value in flat_config.items()})
    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        return pulumi.Output.from_input(run_program_function()).apply(exports.update)

    program()
    return PlanRun(stack=stack, resources=monitor.records, exports=normalize(exports))


def flatten_stack_file(document: Mapping[str, Any]) -> dict[str, str]:
    """Turn a ``Pulumi.<stack>.yaml`` document into the flat map the engine hands the program.

    Structured values (objects, lists) travel as JSON text and scalars as their string form, the
    way the Pulumi CLI passes config in ``PULUMI_CONFIG``.
    """
    flat: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, Mapping) and "secure" in value:
            raise ValueError(f"{key}: secrets cannot be decrypted offline")
        if isinstance(value, Mapping | list):
            flat[key] = json.dumps(value)
        elif isinstance(value, bool):
            flat[key] = "true" if value else "false"
        else:
            flat[key] = str(value)
    return flat
