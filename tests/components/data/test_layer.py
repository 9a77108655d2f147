"""DataLayer over the real stack files: key, buckets, private network, catalog and logs.

Every test reads given (a stack file, run under the recording mock runtime) / when (the plan is
inspected) / then (the exact inputs the engine would receive). Expected values come from the stack
files themselves, so a test follows a deliberate config change and catches a component that
ignores it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from components.data.spec import NetworkConfig
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource
from tests.conftest import Plan, stack_config, stack_file, with_section

REGION = "us-east-1"

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
SECURE_BUCKET = "mlplatform:storage:SecureBucket"
BUCKET = "aws:s3/bucket:Bucket"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
GLUE_DATABASE = "aws:glue/catalogDatabase:CatalogDatabase"
ROLE = "aws:iam/role:Role"

#: Types that would give the private network a way to (or from) the internet.
INTERNET_PATH_TYPES = {
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/eipAssociation:EipAssociation",
    "aws:ec2/route:Route",
}

#: Config key of each bucket in the stack file -> the name part of its SecureBucket.
DATA_BUCKETS = {
    "raw": "raw",
    "processed": "processed",
    "models": "models",
    "experiments": "experiments",
    "capture": "capture",
    "monitoring": "monitoring",
}
ACCESS_LOGS = "access_logs"
ALL_BUCKETS = {**DATA_BUCKETS, ACCESS_LOGS: "access-logs"}

#: Settings resources every bucket carries, exactly one each (logging: data buckets only).
BUCKET_SETTINGS = (ENCRYPTION, PUBLIC_ACCESS, VERSIONING, POLICY, LIFECYCLE, OWNERSHIP)

INTERFACE_SERVICES = {
    "sagemaker.api",
    "sagemaker.runtime",
    "sts",
    "logs",
    "ecr.api",
    "ecr.dkr",
}

# The stack files' bucket defaults (stacks/config.py BucketLifecycle) for keys a file leaves out.
DEFAULT_NONCURRENT_DAYS = 90
DEFAULT_ABORT_UPLOAD_DAYS = 7


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture
def plan(plan: Plan) -> Plan:
    """Each stack's plan, seen through its data layer only (other layers have their own tests)."""
    return plan.layer("data")


def data_section(stack: str) -> dict[str, Any]:
    """The stack file's ``ml-platform:data`` section."""
    return stack_file(stack)["ml-platform:data"]


def environment(plan: Plan) -> str:
    return stack_file(plan.run.stack)["ml-platform:environment"]


def only(resources: list[RecordedResource]) -> RecordedResource:
    assert len(resources) == 1, [resource.name for resource in resources]
    return resources[0]


def ec2_id(resource: RecordedResource) -> str:
    """The id of an EC2 resource, the last part of its ARN (``.../vpc/vpc-0abc``)."""
    return resource.outputs["arn"].rsplit("/", 1)[1]


def policy_document(resource: RecordedResource, key: str = "policy") -> dict[str, Any]:
    return json.loads(resource.inputs[key])


def only_statement(document: dict[str, Any]) -> dict[str, Any]:
    statements = document["Statement"]
    assert len(statements) == 1, statements
    return statements[0]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def principals(statement: dict[str, Any]) -> Iterator[str]:
    """Every principal string a statement names, in Principal or NotPrincipal, in any form."""
    for key in ("Principal", "NotPrincipal"):
        value = statement.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            yield value
            continue
        for named in value.values():
            yield from as_list(named)


def kms_key(plan: Plan) -> RecordedResource:
    return only(plan.of_type(KEY))


def named(plan: Plan, type_: str, name: str) -> RecordedResource:
    """The one resource of ``type_`` with this logical name (components share their names)."""
    return only([resource for resource in plan.of_type(type_) if resource.name == name])


def secure_bucket(plan: Plan, purpose: str) -> RecordedResource:
    return named(plan, SECURE_BUCKET, f"mlp-{environment(plan)}-{ALL_BUCKETS[purpose]}")


def bucket_of(plan: Plan, purpose: str) -> RecordedResource:
    """The aws:s3 Bucket inside the SecureBucket of one purpose."""
    return only(plan.children(secure_bucket(plan, purpose), BUCKET))


def setting(plan: Plan, purpose: str, type_: str) -> RecordedResource:
    """The one settings resource of ``type_`` of a bucket."""
    return only(plan.children(bucket_of(plan, purpose), type_))


def network_resource(plan: Plan, type_: str, suffix: str) -> RecordedResource:
    return named(plan, type_, f"mlp-{environment(plan)}-network-{suffix}")


def network_config(stack: str) -> NetworkConfig:
    return NetworkConfig.model_validate(data_section(stack)["network"])


def provider_urn(stack: str) -> str:
    return f"urn:pulumi:{stack}::ml-platform::pulumi:providers:aws::aws"


def expected_lifecycle_rule(bucket_config: dict[str, Any]) -> dict[str, Any]:
    """The provider's rule for one bucket's lifecycle section of a stack file."""
    rule: dict[str, Any] = {
        "id": "platform-lifecycle",
        "status": "Enabled",
        "filter": {"prefix": ""},
        "noncurrentVersionExpiration": {
            "noncurrentDays": bucket_config.get(
                "noncurrent_version_expiration_days", DEFAULT_NONCURRENT_DAYS
            )
        },
        "abortIncompleteMultipartUpload": {
            "daysAfterInitiation": bucket_config.get(
                "abort_incomplete_multipart_upload_days", DEFAULT_ABORT_UPLOAD_DAYS
            )
        },
    }
    if bucket_config.get("transitions"):
        rule["transitions"] = [
            {"days": step["days"], "storageClass": step["storage_class"]}
            for step in bucket_config["transitions"]
        ]
    if bucket_config.get("expiration_days") is not None:
        rule["expiration"] = {"days": bucket_config["expiration_days"]}
    return rule


def dev_with_data(change: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    """The dev stack's flat config with its data section (copied whole) changed by ``change``."""
    data = copy.deepcopy(data_section("dev"))
    change(data)
    return with_section(stack_config("dev"), "data", data)


# --------------------------------------------------------------------------------------------
# KMS key
# --------------------------------------------------------------------------------------------


def test_kms_key_rotates_and_keeps_the_stack_files_deletion_window(plan: Plan) -> None:
    # given a stack file's kms section
    window = data_section(plan.run.stack)["kms"]["deletion_window_days"]
    # when the key is planned
    key = kms_key(plan)
    # then it rotates yearly and a deleted key stays recoverable for the configured days
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == window
    assert key.inputs["deletionWindowInDays"] == {"dev": 7, "prod": 30}[plan.run.stack]
    if plan.run.stack == "prod":
        assert key.inputs["deletionWindowInDays"] >= 30


def test_kms_key_policy_has_no_wildcard_principal(plan: Plan) -> None:
    # given the planned key policy
    statements = policy_document(kms_key(plan))["Statement"]
    assert statements
    # then no Allow statement is open to everyone
    for statement in statements:
        if statement["Effect"] == "Allow":
            assert statement.get("Principal") not in ("*", {"AWS": "*"}), statement
            assert "NotPrincipal" not in statement, statement
    # and no principal anywhere is a wildcard: this account's root, regional CW Logs, CW alarms
    named = [principal for statement in statements for principal in principals(statement)]
    assert all("*" not in principal for principal in named), named
    assert set(named) == {
        f"arn:aws:iam::{MOCK_ACCOUNT_ID}:root",
        f"logs.{REGION}.amazonaws.com",
        "cloudwatch.amazonaws.com",  # alarms publishing to encrypted topics, this account only
    }


def test_kms_key_has_an_alias_named_after_the_environment(plan: Plan) -> None:
    key = kms_key(plan)
    # when the alias is planned, then it names the platform key
    alias = only(plan.of_type(ALIAS))
    assert alias.inputs["name"] == f"alias/ml-platform-{environment(plan)}"
    assert alias.inputs["targetKeyId"] == key.outputs["keyId"]


# --------------------------------------------------------------------------------------------
# buckets
# --------------------------------------------------------------------------------------------


def test_data_layer_has_the_seven_secure_buckets(plan: Plan) -> None:
    # when the data layer is planned
    layer = only(plan.of_type("mlplatform:data:DataLayer"))
    components = plan.of_type(SECURE_BUCKET)
    # then it owns exactly the seven SecureBuckets, each holding one S3 bucket
    env = environment(plan)
    assert {component.name for component in components} == {
        f"mlp-{env}-{name}" for name in ALL_BUCKETS.values()
    }
    assert all(component.parent == layer.urn for component in components)
    assert len(plan.of_type(BUCKET)) == 7
    for component in components:
        assert len(plan.children(component, BUCKET)) == 1


@pytest.mark.parametrize("purpose", ALL_BUCKETS)
def test_bucket_has_exactly_one_of_each_setting(plan: Plan, purpose: str) -> None:
    # given one bucket
    bucket = bucket_of(plan, purpose)
    children = plan.children(bucket)
    # then every setting exists once (access logging only where the bucket is not the log bucket)
    expected = {type_: 1 for type_ in BUCKET_SETTINGS}
    expected[LOGGING] = 0 if purpose == ACCESS_LOGS else 1
    for type_, count in expected.items():
        assert len([child for child in children if child.type == type_]) == count, type_
    assert {child.type for child in children} <= {*BUCKET_SETTINGS, LOGGING}
    # and every setting applies to this bucket
    for child in children:
        assert child.inputs["bucket"] == bucket.outputs["bucket"], child.name


@pytest.mark.parametrize("purpose", DATA_BUCKETS)
def test_data_bucket_is_encrypted_with_the_platform_key(plan: Plan, purpose: str) -> None:
    encryption = setting(plan, purpose, ENCRYPTION)
    assert encryption.inputs["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "aws:kms",
                "kmsMasterKeyId": kms_key(plan).outputs["arn"],
            },
            "bucketKeyEnabled": True,
        }
    ]


def test_access_log_bucket_is_encrypted_with_sse_s3(plan: Plan) -> None:
    # given the bucket that receives server access logs
    encryption = setting(plan, ACCESS_LOGS, ENCRYPTION)
    # then it uses AES256: S3 server access logging cannot deliver to an SSE-KMS bucket
    assert encryption.inputs["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"},
            "bucketKeyEnabled": False,
        }
    ]


@pytest.mark.parametrize("purpose", ALL_BUCKETS)
def test_bucket_blocks_all_public_access(plan: Plan, purpose: str) -> None:
    block = setting(plan, purpose, PUBLIC_ACCESS)
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[flag] is True, flag


@pytest.mark.parametrize("purpose", ALL_BUCKETS)
def test_bucket_is_versioned_and_owner_enforced(plan: Plan, purpose: str) -> None:
    assert setting(plan, purpose, VERSIONING).inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    assert setting(plan, purpose, OWNERSHIP).inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }


@pytest.mark.parametrize("purpose", ALL_BUCKETS)
def test_bucket_lifecycle_matches_the_stack_file(plan: Plan, purpose: str) -> None:
    # given the bucket's lifecycle section in the stack file
    bucket_config = data_section(plan.run.stack)["buckets"][purpose]
    # when its lifecycle configuration is planned
    lifecycle = setting(plan, purpose, LIFECYCLE)
    # then it is one whole-bucket rule carrying exactly the configured days and classes
    assert lifecycle.inputs["rules"] == [expected_lifecycle_rule(bucket_config)]
    # and it waits for versioning (rules on noncurrent versions need it)
    assert setting(plan, purpose, VERSIONING).urn in lifecycle.depends_on


@pytest.mark.parametrize("purpose", ALL_BUCKETS)
def test_bucket_policy_denies_requests_without_tls(plan: Plan, purpose: str) -> None:
    # given the bucket's policy
    arn = bucket_of(plan, purpose).outputs["arn"]
    statements = policy_document(setting(plan, purpose, POLICY))["Statement"]
    # then one statement denies every S3 action over plain HTTP, on the bucket and its objects
    insecure = [
        statement
        for statement in statements
        if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(insecure) == 1, statements
    deny = insecure[0]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] in ("*", {"AWS": "*"})
    assert as_list(deny["Action"]) == ["s3:*"]
    assert sorted(as_list(deny["Resource"])) == sorted([arn, f"{arn}/*"])
    # and another denies TLS older than 1.2 on the same resources
    outdated = [
        statement
        for statement in statements
        if statement.get("Condition") == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    ]
    assert len(outdated) == 1, statements
    assert outdated[0]["Effect"] == "Deny"
    assert sorted(as_list(outdated[0]["Resource"])) == sorted([arn, f"{arn}/*"])


@pytest.mark.parametrize("purpose", DATA_BUCKETS)
def test_data_bucket_policy_allows_nothing(plan: Plan, purpose: str) -> None:
    # then a data bucket's policy only denies: access comes from IAM, never from the bucket
    statements = policy_document(setting(plan, purpose, POLICY))["Statement"]
    assert [statement["Effect"] for statement in statements] == ["Deny", "Deny"]


@pytest.mark.parametrize("purpose", DATA_BUCKETS)
def test_data_bucket_logs_into_the_access_log_bucket(plan: Plan, purpose: str) -> None:
    # given the access-log bucket's physical name
    log_bucket_name = bucket_of(plan, ACCESS_LOGS).outputs["bucket"]
    # when the data bucket's logging is planned
    logging = setting(plan, purpose, LOGGING)
    # then it delivers into that bucket under its own prefix
    assert logging.inputs["targetBucket"] == log_bucket_name
    assert logging.inputs["targetPrefix"] == f"mlp-{environment(plan)}-{DATA_BUCKETS[purpose]}/"


def test_access_log_bucket_policy_allows_s3_log_delivery_of_this_account(plan: Plan) -> None:
    # given the access-log bucket's policy
    arn = bucket_of(plan, ACCESS_LOGS).outputs["arn"]
    statements = policy_document(setting(plan, ACCESS_LOGS, POLICY))["Statement"]
    # then its one Allow lets the S3 logging service put objects, for this account's buckets only
    allows = [statement for statement in statements if statement["Effect"] == "Allow"]
    assert len(allows) == 1, statements
    allow = allows[0]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert as_list(allow["Action"]) == ["s3:PutObject"]
    assert as_list(allow["Resource"]) == [f"{arn}/*"]
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID}}


# --------------------------------------------------------------------------------------------
# private network
# --------------------------------------------------------------------------------------------


def test_vpc_has_dns_support_and_hostnames(plan: Plan) -> None:
    vpc = only(plan.of_type(VPC))
    assert vpc.inputs["cidrBlock"] == network_config(plan.run.stack).cidr
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True


def test_one_private_subnet_per_configured_zone(plan: Plan) -> None:
    # given the stack file's network section
    network = network_config(plan.run.stack)
    vpc_id = ec2_id(only(plan.of_type(VPC)))
    # when the subnets are planned
    subnets = sorted(plan.of_type(SUBNET), key=lambda subnet: subnet.inputs["availabilityZone"])
    # then there is one per zone (2 dev: EKS needs two; 3 prod), in distinct zones, with the carved CIDRs
    assert len(subnets) == network.availability_zones == {"dev": 2, "prod": 3}[plan.run.stack]
    zones = [subnet.inputs["availabilityZone"] for subnet in subnets]
    assert zones == [f"{REGION}{letter}" for letter in "abc"[: len(subnets)]]
    assert [subnet.inputs["cidrBlock"] for subnet in subnets] == network.subnet_cidrs()
    for subnet in subnets:
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
        assert subnet.inputs["vpcId"] == vpc_id


def test_network_has_no_path_to_the_internet(plan: Plan) -> None:
    # then nothing in the plan is an internet or NAT gateway, an elastic IP or a route
    found = {resource.type for resource in plan.resources} & INTERNET_PATH_TYPES
    assert found == set()
    # and the private route table has no inline routes, and every subnet uses it
    route_table = only(plan.of_type(ROUTE_TABLE))
    assert "routes" not in route_table.inputs or route_table.inputs["routes"] == []
    associations = plan.of_type(ROUTE_TABLE_ASSOCIATION)
    assert len(associations) == len(plan.of_type(SUBNET))
    assert {association.inputs["routeTableId"] for association in associations} == {
        ec2_id(route_table)
    }
    assert {association.inputs["subnetId"] for association in associations} == {
        ec2_id(subnet) for subnet in plan.of_type(SUBNET)
    }


def test_default_security_group_has_no_rules(plan: Plan) -> None:
    default_sg = only(plan.of_type(DEFAULT_SG))
    assert default_sg.inputs["vpcId"] == ec2_id(only(plan.of_type(VPC)))
    assert default_sg.inputs["ingress"] == []
    assert default_sg.inputs["egress"] == []


def test_s3_gateway_endpoint_on_the_private_route_table(plan: Plan) -> None:
    gateways = [
        endpoint
        for endpoint in plan.of_type(ENDPOINT)
        if endpoint.inputs["vpcEndpointType"] == "Gateway"
    ]
    gateway = only(gateways)
    assert gateway.inputs["serviceName"] == f"com.amazonaws.{REGION}.s3"
    assert gateway.inputs["routeTableIds"] == [ec2_id(only(plan.of_type(ROUTE_TABLE)))]
    assert gateway.inputs["vpcId"] == ec2_id(only(plan.of_type(VPC)))


def test_interface_endpoints_with_private_dns_for_exactly_the_needed_services(plan: Plan) -> None:
    # given the subnets and the endpoint security group
    subnet_ids = sorted(ec2_id(subnet) for subnet in plan.of_type(SUBNET))
    endpoint_sg = network_resource(plan, SECURITY_GROUP, "endpoints")
    # when the interface endpoints are planned
    interfaces = [
        endpoint
        for endpoint in plan.of_type(ENDPOINT)
        if endpoint.inputs["vpcEndpointType"] == "Interface"
    ]
    # then there is one per needed service and no other
    services = [endpoint.inputs["serviceName"] for endpoint in interfaces]
    assert sorted(services) == sorted(
        [
            *(f"com.amazonaws.{REGION}.{name}" for name in INTERFACE_SERVICES),
            # the SageMaker MLflow tracking servers' endpoint has a name of its own
            f"aws.sagemaker.{REGION}.experiments",
        ]
    )
    # and each resolves privately, in every subnet, behind the endpoint security group
    for endpoint in interfaces:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert sorted(endpoint.inputs["subnetIds"]) == subnet_ids
        assert endpoint.inputs["securityGroupIds"] == [ec2_id(endpoint_sg)]
    # and the only endpoints are these and the S3 gateway
    assert len(plan.of_type(ENDPOINT)) == len(INTERFACE_SERVICES) + 2


def test_endpoint_security_group_allows_only_https_from_the_vpc(plan: Plan) -> None:
    # given the endpoint security group
    endpoint_sg = network_resource(plan, SECURITY_GROUP, "endpoints")
    sg_id = ec2_id(endpoint_sg)
    # then it has no inline rules
    assert "ingress" not in endpoint_sg.inputs or endpoint_sg.inputs["ingress"] == []
    # and its only ingress rule is TCP 443 from the VPC's CIDR
    ingress = [
        rule for rule in plan.of_type(INGRESS_RULE) if rule.inputs["securityGroupId"] == sg_id
    ]
    rule = only(ingress)
    assert rule.inputs["ipProtocol"] == "tcp"
    assert rule.inputs["fromPort"] == 443
    assert rule.inputs["toPort"] == 443
    assert rule.inputs["cidrIpv4"] == network_config(plan.run.stack).cidr
    assert "referencedSecurityGroupId" not in rule.inputs
    assert "prefixListId" not in rule.inputs
    # and it has no separate egress rules
    assert [r for r in plan.of_type(EGRESS_RULE) if r.inputs["securityGroupId"] == sg_id] == []


def test_flow_log_records_the_vpc_into_an_encrypted_log_group(plan: Plan) -> None:
    # given the stack file's traffic type and retention
    data = data_section(plan.run.stack)
    # when the flow log is planned
    flow_log = only(plan.of_type(FLOW_LOG))
    log_group = network_resource(plan, LOG_GROUP, "flow-logs")
    role = only(plan.of_type(ROLE))
    # then it records the VPC's configured traffic (REJECT dev, ALL prod)
    assert flow_log.inputs["vpcId"] == ec2_id(only(plan.of_type(VPC)))
    assert flow_log.inputs["trafficType"] == data["network"]["flow_log_traffic"]
    assert flow_log.inputs["trafficType"] == {"dev": "REJECT", "prod": "ALL"}[plan.run.stack]
    # into the KMS-encrypted flow-log group, kept for the configured days (14 dev, 365 prod)
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["logDestination"] == log_group.outputs["arn"]
    assert flow_log.inputs["iamRoleArn"] == role.outputs["arn"]
    assert log_group.inputs["kmsKeyId"] == kms_key(plan).outputs["arn"]
    assert log_group.inputs["retentionInDays"] == data["log_retention_days"]
    assert log_group.inputs["retentionInDays"] == {"dev": 14, "prod": 365}[plan.run.stack]


def test_flow_log_role_is_assumable_only_by_flow_logs_of_this_account(plan: Plan) -> None:
    trust = policy_document(only(plan.of_type(ROLE)), "assumeRolePolicy")
    statement = only_statement(trust)
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert as_list(statement["Action"]) == ["sts:AssumeRole"]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": MOCK_ACCOUNT_ID}
    assert statement["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:ec2:{REGION}:{MOCK_ACCOUNT_ID}:vpc-flow-log/*"
    }


# --------------------------------------------------------------------------------------------
# catalog, logs, provider
# --------------------------------------------------------------------------------------------


def test_glue_database_is_named_after_the_environment(plan: Plan) -> None:
    database = only(plan.of_type(GLUE_DATABASE))
    assert database.inputs["name"] == f"ml_platform_{environment(plan)}"
    assert (
        database.inputs["name"]
        == {"dev": "ml_platform_dev", "prod": "ml_platform_prod"}[plan.run.stack]
    )
    processed = bucket_of(plan, "processed").outputs["bucket"]
    assert database.inputs["locationUri"] == f"s3://{processed}/"


def test_every_log_group_is_encrypted_and_keeps_logs_for_the_configured_days(plan: Plan) -> None:
    # given the stack file's retention
    days = data_section(plan.run.stack)["log_retention_days"]
    env = environment(plan)
    # when the log groups are planned
    log_groups = plan.of_type(LOG_GROUP)
    # then there are the workload and flow-log groups, each encrypted and kept `days` days
    assert sorted(group.inputs["name"] for group in log_groups) == [
        f"/ml-platform/{env}/vpc-flow-logs",
        f"/ml-platform/{env}/workloads",
    ]
    for group in log_groups:
        assert group.inputs["kmsKeyId"] == kms_key(plan).outputs["arn"], group.name
        assert group.inputs["retentionInDays"] == days, group.name


def test_every_cloud_resource_uses_the_stacks_explicit_provider(plan: Plan) -> None:
    custom = [
        resource
        for resource in plan.resources
        if resource.custom and not resource.type.startswith("pulumi:providers:")
    ]
    assert len(custom) > 80
    wrong = {
        resource.name: resource.provider
        for resource in custom
        if resource.provider != provider_urn(plan.run.stack)
    }
    assert wrong == {}


# --------------------------------------------------------------------------------------------
# changed config
# --------------------------------------------------------------------------------------------


def test_changing_log_retention_changes_every_log_group(
    run_stack: Callable[[str, dict[str, str]], Plan],
) -> None:
    # given dev's data section with log_retention_days 60 instead of 14
    assert data_section("dev")["log_retention_days"] != 60
    flat = dev_with_data(lambda data: data.update(log_retention_days=60))
    # when the program runs
    changed = run_stack("dev", flat)
    # then every log group keeps logs 60 days, still encrypted
    log_groups = changed.layer("data").of_type(LOG_GROUP)
    assert len(log_groups) == 2
    assert [group.inputs["retentionInDays"] for group in log_groups] == [60, 60]
    assert all(group.inputs["kmsKeyId"] == kms_key(changed).outputs["arn"] for group in log_groups)
    # and the rest of the data section still applies
    assert kms_key(changed).inputs["deletionWindowInDays"] == 7


def test_two_availability_zones_give_two_subnets_in_the_first_two_zones(
    run_stack: Callable[[str, dict[str, str]], Plan],
) -> None:
    # given dev's data section asking for 2 availability zones (the mock region has 6)
    flat = dev_with_data(lambda data: data["network"].update(availability_zones=2))
    # when the program runs
    changed = run_stack("dev", flat)
    # then there are two private subnets, in us-east-1a and us-east-1b, with the next CIDRs
    subnets = sorted(changed.of_type(SUBNET), key=lambda subnet: subnet.inputs["availabilityZone"])
    assert [subnet.inputs["availabilityZone"] for subnet in subnets] == [
        "us-east-1a",
        "us-east-1b",
    ]
    assert [subnet.inputs["cidrBlock"] for subnet in subnets] == ["10.20.0.0/20", "10.20.16.0/20"]
    # and every interface endpoint spans both
    subnet_ids = sorted(ec2_id(subnet) for subnet in subnets)
    for endpoint in changed.of_type(ENDPOINT):
        if endpoint.inputs["vpcEndpointType"] == "Interface":
            assert sorted(endpoint.inputs["subnetIds"]) == subnet_ids


def test_a_changed_bucket_section_changes_that_buckets_lifecycle(
    run_stack: Callable[[str, dict[str, str]], Plan],
) -> None:
    # given dev's raw bucket with every lifecycle setting away from its default
    raw = {
        "transitions": [
            {"days": 30, "storage_class": "STANDARD_IA"},
            {"days": 90, "storage_class": "GLACIER"},
        ],
        "expiration_days": 120,
        "noncurrent_version_expiration_days": 5,
        "abort_incomplete_multipart_upload_days": 3,
    }
    flat = dev_with_data(lambda data: data["buckets"].update(raw=raw))
    # when the program runs
    changed = run_stack("dev", flat)
    # then the raw bucket's rule carries exactly those values
    assert setting(changed, "raw", LIFECYCLE).inputs["rules"] == [
        {
            "id": "platform-lifecycle",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "transitions": [
                {"days": 30, "storageClass": "STANDARD_IA"},
                {"days": 90, "storageClass": "GLACIER"},
            ],
            "expiration": {"days": 120},
            "noncurrentVersionExpiration": {"noncurrentDays": 5},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 3},
        }
    ]
    # and the other buckets keep the stack file's rules
    bucket_config = data_section("dev")["buckets"]["models"]
    assert setting(changed, "models", LIFECYCLE).inputs["rules"] == [
        expected_lifecycle_rule(bucket_config)
    ]
