"""FeatureStoreLayer: SageMaker feature groups from the stack's definitions, and access to them.

* One ``FeatureGroup`` per group version in the ``feature_store`` config section, named
  ``mlp-<env>-<name>-v<version>``. Its online store is encrypted with the platform key (optional
  TTL, Standard or InMemory); its offline store writes Parquet (Glue or Iceberg table format)
  under ``s3://<processed bucket>/feature-store/``, encrypted with the platform key, into a Glue
  table ``<name>_v<version>`` of the data layer's database.
* **Schema changes never destroy data.** Each group ignores the fields that would make pulumi-aws
  replace it; a :class:`~components.feature_store.schema.FeatureSchema` beside it adds new features
  in place and refuses, at preview, every other change with a message saying to add a new version. A
  new version is a new group next to the old one (whose data stays until its entry is removed from
  the config). In a retaining stack (prod) groups are also protected and retained, so even a
  removed entry or ``pulumi destroy`` cannot delete one.
* A role SageMaker uses to write each group's offline store, scoped to the ``feature-store/``
  prefix, the key through S3, and this layer's Glue tables.
* An Athena workgroup whose results are SSE-KMS encrypted under ``athena-results/`` with a
  per-query scan limit, for offline queries (point-in-time training sets).
* Interface endpoints for the feature store runtime and Athena, so jobs and endpoints in the
  private VPC (no internet) can reach them.
* :meth:`FeatureStoreLayer.grant_read` / :meth:`FeatureStoreLayer.grant_write` give another
  layer's role exactly the access it needs to these groups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.feature_store.schema import FeatureSchema
from components.feature_store.spec import (
    AthenaConfig,
    FeatureGroupConfig,
    FeatureStoreConfig,
    OnlineStoreConfig,
)
from components.platform import PlatformContext, PlatformLayer
from components.shared import iam_policies
from components.shared.service_role import service_role

#: The platform bucket (by purpose) holding the offline stores and the Athena query results.
OFFLINE_BUCKET = "processed"

#: Where offline stores write in the processed bucket, and where Athena writes query results.
OFFLINE_PREFIX = "feature-store"
ATHENA_RESULTS_PREFIX = "athena-results"

#: Interface endpoints this layer adds to the VPC (ingestion and lookups; Athena queries).
ENDPOINT_SERVICES = ("sagemaker.featurestore-runtime", "athena")

#: FeatureGroup fields that replace the group when they change (pulumi-aws / CloudFormation
#: "Update requires: Replacement"); the group ignores them and FeatureSchema owns them.
REPLACING_FIELDS = [
    "featureDefinitions",
    "recordIdentifierFeatureName",
    "eventTimeFeatureName",
    "description",
    "offlineStoreConfig",
    "onlineStoreConfig.enableOnlineStore",
    "onlineStoreConfig.securityConfig",
    "onlineStoreConfig.storageType",
]

GLUE_READ_ACTIONS = [
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
]
ATHENA_QUERY_ACTIONS = [
    "athena:GetWorkGroup",
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
]


def fixed_settings(group: FeatureGroupConfig) -> dict[str, Any]:
    """The settings a live group cannot change (its FeatureSchema refuses changes to them)."""
    return {
        "online_store": group.online.enabled,
        "storage_type": group.online.storage_type,
        "offline_store": group.offline.enabled,
        "table_format": group.offline.table_format,
        "description": group.definition.description,
    }


@dataclass(frozen=True)
class GroupAccess:
    """What a grant statement needs to know about the layer (plain values, inside an apply).

    Resolved identifiers only: the platform's outputs once known, and the names and ARNs the
    layer derives from its groups.
    """

    partition: str
    """The AWS partition, for ARNs."""
    region: str
    """The stack's region."""
    account_id: str
    """The platform's account."""
    kms_key_arn: str
    """The platform key, which encrypts both stores and the query results."""
    bucket_arn: str
    """The processed bucket, home of the offline stores and the Athena results."""
    database: str
    """The Glue database of the offline tables."""
    tables: list[str]
    """Every group version's Glue table (``<name>_v<version>``)."""
    online_group_arns: list[str]
    """ARNs of the group versions that keep an online store."""
    group_arns: list[str]
    """ARNs of every group version."""
    workgroup: str
    """The layer's Athena workgroup."""


def _glue_resources(access: GroupAccess) -> list[str]:
    base = f"arn:{access.partition}:glue:{access.region}:{access.account_id}"
    return [
        f"{base}:catalog",
        f"{base}:database/{access.database}",
        *(f"{base}:table/{access.database}/{table}" for table in access.tables),
    ]


def _kms_via_feature_store(access: GroupAccess, actions: list[str]) -> iam_policies.Statement:
    return {
        "Sid": "UsePlatformKeyThroughSageMaker",
        "Effect": "Allow",
        "Action": actions,
        "Resource": access.kms_key_arn,
        "Condition": {
            "StringEquals": {"kms:ViaService": f"sagemaker.{access.region}.amazonaws.com"}
        },
    }


def offline_store_statements(access: GroupAccess, iceberg: bool) -> list[iam_policies.Statement]:
    """What SageMaker needs to write the offline stores (and, for Iceberg, compact them)."""
    prefix = f"{access.bucket_arn}/{OFFLINE_PREFIX}/*"
    object_actions = ["s3:PutObject", "s3:GetObject"] + (["s3:DeleteObject"] if iceberg else [])
    return [
        {
            "Sid": "WriteOfflineStore",
            "Effect": "Allow",
            "Action": object_actions,
            "Resource": prefix,
        },
        {
            "Sid": "ListOfflineStore",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": access.bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{OFFLINE_PREFIX}/*"]}},
        },
        {
            "Sid": "CheckBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketAcl"],
            "Resource": access.bucket_arn,
        },
        iam_policies.kms_via_s3_statement(access.kms_key_arn, access.region),
        {
            "Sid": "OfflineStoreTables",
            "Effect": "Allow",
            "Action": [
                *GLUE_READ_ACTIONS,
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:BatchCreatePartition",
                "glue:CreatePartition",
            ],
            "Resource": _glue_resources(access),
        },
    ]


def read_statements(access: GroupAccess, offline: bool = True) -> list[iam_policies.Statement]:
    """Read the groups: online lookups and (``offline``) files, tables and Athena queries."""
    statements: list[iam_policies.Statement] = [
        {
            "Sid": "DescribeFeatureGroups",
            "Effect": "Allow",
            "Action": ["sagemaker:DescribeFeatureGroup"],
            "Resource": access.group_arns,
        },
    ]
    if offline:
        statements += _offline_read_statements(access)
    if access.online_group_arns:
        statements += [
            {
                "Sid": "ReadOnlineStore",
                "Effect": "Allow",
                "Action": ["sagemaker:GetRecord", "sagemaker:BatchGetRecord"],
                "Resource": access.online_group_arns,
            },
            _kms_via_feature_store(access, ["kms:Decrypt"]),
        ]
    return statements


def _offline_read_statements(access: GroupAccess) -> list[iam_policies.Statement]:
    return [
        {
            "Sid": "ReadOfflineStoreAndQueryResults",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [
                f"{access.bucket_arn}/{OFFLINE_PREFIX}/*",
                f"{access.bucket_arn}/{ATHENA_RESULTS_PREFIX}/*",
            ],
        },
        {
            "Sid": "WriteQueryResults",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": f"{access.bucket_arn}/{ATHENA_RESULTS_PREFIX}/*",
        },
        {
            "Sid": "ListOfflineStoreAndQueryResults",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": access.bucket_arn,
            "Condition": {
                "StringLike": {"s3:prefix": [f"{OFFLINE_PREFIX}/*", f"{ATHENA_RESULTS_PREFIX}/*"]}
            },
        },
        {
            # Athena checks the results bucket's region before a query ("Unable to verify/create
            # output bucket" without it). GetBucketLocation carries no s3:prefix, so it cannot
            # share the listing statement's prefix condition: that would never grant it.
            # https://docs.aws.amazon.com/athena/latest/ug/security-iam-athena.html
            "Sid": "LocateQueryResultsBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation"],
            "Resource": access.bucket_arn,
        },
        iam_policies.kms_via_s3_statement(access.kms_key_arn, access.region),
        {
            "Sid": "ReadOfflineTables",
            "Effect": "Allow",
            "Action": GLUE_READ_ACTIONS,
            "Resource": _glue_resources(access),
        },
        {
            "Sid": "QueryOfflineStore",
            "Effect": "Allow",
            "Action": ATHENA_QUERY_ACTIONS,
            "Resource": (
                f"arn:{access.partition}:athena:{access.region}:{access.account_id}"
                f":workgroup/{access.workgroup}"
            ),
        },
    ]


def write_statements(access: GroupAccess) -> list[iam_policies.Statement]:
    """Write and delete records (PutRecord / DeleteRecord) in the groups."""
    return [
        {
            "Sid": "WriteRecords",
            "Effect": "Allow",
            "Action": ["sagemaker:PutRecord", "sagemaker:DeleteRecord"],
            "Resource": access.group_arns,
        },
        _kms_via_feature_store(access, ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]),
    ]


class FeatureStoreLayer(PlatformLayer[FeatureStoreConfig]):
    """Feature groups, their offline-store role, an Athena workgroup and runtime endpoints."""

    TYPE = "mlplatform:featurestore:FeatureStoreLayer"

    groups: dict[str, aws.sagemaker.FeatureGroup]
    """Each group version by ``<name>_v<version>``."""
    schemas: dict[str, FeatureSchema]
    """The schema guard of each group version, by the same key."""
    specs: dict[str, FeatureGroupConfig]
    """Each group version's section of the config, by the same key."""
    offline_store_role: aws.iam.Role
    """The role SageMaker writes the offline stores with."""
    workgroup: aws.athena.Workgroup
    """The Athena workgroup for offline queries."""
    offline_s3_base: pulumi.Output[str]
    """``s3://<processed>/feature-store``, under which every offline store writes."""

    def build(self, spec: FeatureStoreConfig, platform: PlatformContext) -> None:
        """Build the groups of the ``feature_store`` section on ``platform``'s data layer."""
        self._spec, self._platform = spec, platform
        # Names every resource of the layer, the Athena workgroup's included.
        self._prefix = prefix = f"mlp-{platform.environment}-features"
        child = pulumi.ResourceOptions(parent=self)
        bucket = platform.buckets[OFFLINE_BUCKET]
        self.offline_s3_base = pulumi.Output.concat("s3://", bucket.bucket, f"/{OFFLINE_PREFIX}")

        self.workgroup = _workgroup(self, prefix, spec.athena, platform)
        platform.interface_endpoints(prefix, ENDPOINT_SERVICES, opts=child)

        self.offline_store_role = service_role(
            f"{prefix}-offline-store",
            service="sagemaker.amazonaws.com",
            description="SageMaker Feature Store: write the offline stores of this stack's groups",
            account_id=platform.account_id,
            opts=child,
        )
        iceberg = any(group.offline.table_format == "Iceberg" for group in spec.groups)
        offline_policy = aws.iam.RolePolicy(
            f"{prefix}-offline-store",
            role=self.offline_store_role.id,
            policy=self._access().apply(
                lambda access: iam_policies.policy_json(*offline_store_statements(access, iceberg))
            ),
            opts=pulumi.ResourceOptions(parent=self.offline_store_role),
        )

        self.groups, self.schemas, self.specs = {}, {}, {}
        for group_spec in spec.groups:
            key = group_spec.definition.table_name
            group = _feature_group(
                self,
                f"{prefix}-{key}",
                group_spec,
                platform,
                role_arn=self.offline_store_role.arn,
                offline_s3_base=self.offline_s3_base,
                depends_on=[offline_policy],
            )
            self.groups[key] = group
            self.specs[key] = group_spec
            self.schemas[key] = FeatureSchema(
                f"{prefix}-{key}-schema",
                group_name=group.feature_group_name,
                region=platform.region,
                definition=group_spec.definition,
                settings=fixed_settings(group_spec),
                # Not stateful itself (deleting it deletes nothing), so not protected with its
                # group: retention rules stay exactly the stateful resources.
                opts=pulumi.ResourceOptions(parent=group, depends_on=[group], protect=False),
            )

    def _access(self) -> pulumi.Output[GroupAccess]:
        """The layer's identifiers as plain values, for policy documents."""
        platform, groups = self._platform, self._spec.groups
        definitions = [group.definition for group in groups]
        names = [d.group_name(platform.environment) for d in definitions]
        online = [name for group, name in zip(groups, names, strict=True) if group.online.enabled]

        def build(values: list[Any]) -> GroupAccess:
            partition, account_id, kms_key_arn, bucket_arn, database = values
            base = f"arn:{partition}:sagemaker:{platform.region}:{account_id}:feature-group"
            return GroupAccess(
                partition=partition,
                region=platform.region,
                account_id=account_id,
                kms_key_arn=kms_key_arn,
                bucket_arn=bucket_arn,
                database=database,
                tables=[d.table_name for d in definitions],
                # SageMaker writes the group name in lower case in its ARNs.
                group_arns=[f"{base}/{name.lower()}" for name in names],
                online_group_arns=[f"{base}/{name.lower()}" for name in online],
                workgroup=self._prefix,
            )

        return pulumi.Output.all(
            platform.partition,
            platform.account_id,
            platform.kms_key_arn,
            platform.buckets[OFFLINE_BUCKET].arn,
            platform.glue_database_name,
        ).apply(build)

    def grant_read(
        self,
        name: str,
        role: pulumi.Input[str],
        opts: pulumi.ResourceOptions,
        *,
        offline: bool = True,
    ) -> aws.iam.RolePolicy:
        """Let ``role`` (its name) read every group.

        That is online lookups, the offline files and tables, and Athena queries in this layer's
        workgroup; ``offline=False`` leaves only online lookups (an inference endpoint).
        ``opts`` should parent the policy to the role's own component.
        """
        return self._grant(name, role, opts, lambda access: read_statements(access, offline))

    def grant_write(
        self, name: str, role: pulumi.Input[str], opts: pulumi.ResourceOptions
    ) -> aws.iam.RolePolicy:
        """Let ``role`` (its name) write and delete records in every group."""
        return self._grant(name, role, opts, write_statements)

    def _grant(
        self,
        name: str,
        role: pulumi.Input[str],
        opts: pulumi.ResourceOptions,
        statements: Callable[[GroupAccess], list[iam_policies.Statement]],
    ) -> aws.iam.RolePolicy:
        return aws.iam.RolePolicy(
            name,
            role=role,
            policy=self._access().apply(
                lambda access: iam_policies.policy_json(*statements(access))
            ),
            opts=opts,
        )

    def exports(self) -> dict[str, Any]:
        """The layer's outputs: each group version's name, ARN, offline location and table."""
        groups = {}
        for key, group in self.groups.items():
            group_spec = self.specs[key]
            offline = group_spec.offline.enabled
            groups[key] = {
                "name": group.feature_group_name,
                "arn": group.arn,
                "online_store": group_spec.online.enabled,
                "offline_s3_uri": _offline_uri(group) if offline else None,
                "glue_table": pulumi.Output.concat(
                    self._platform.glue_database_name, ".", group_spec.definition.table_name
                )
                if offline
                else None,
            }
        return {
            "groups": groups,
            "athena_workgroup": self.workgroup.name,
            "offline_store_role_arn": self.offline_store_role.arn,
        }


def _workgroup(
    parent: FeatureStoreLayer, name: str, athena: AthenaConfig, platform: PlatformContext
) -> aws.athena.Workgroup:
    """The Athena workgroup ``name``: results SSE-KMS under ``athena-results/``, a scan limit."""
    bucket = platform.buckets[OFFLINE_BUCKET]
    return aws.athena.Workgroup(
        name,
        name=name,
        description="Offline feature-store queries (point-in-time training sets)",
        force_destroy=platform.retention.force_destroy,
        configuration=aws.athena.WorkgroupConfigurationArgs(
            # Users cannot point results elsewhere or turn encryption off per query.
            enforce_workgroup_configuration=True,
            publish_cloudwatch_metrics_enabled=True,
            bytes_scanned_cutoff_per_query=athena.bytes_scanned_cutoff,
            engine_version=aws.athena.WorkgroupConfigurationEngineVersionArgs(
                selected_engine_version="Athena engine version 3"
            ),
            result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                output_location=pulumi.Output.concat(
                    "s3://", bucket.bucket, f"/{ATHENA_RESULTS_PREFIX}/"
                ),
                encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                    encryption_option="SSE_KMS", kms_key_arn=platform.kms_key_arn
                ),
            ),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _feature_group(
    parent: FeatureStoreLayer,
    name: str,
    group: FeatureGroupConfig,
    platform: PlatformContext,
    *,
    role_arn: pulumi.Output[str],
    offline_s3_base: pulumi.Output[str],
    depends_on: list[pulumi.Resource],
) -> aws.sagemaker.FeatureGroup:
    """One group version, ignoring the fields that would replace it (its FeatureSchema owns them).

    Stateful: a retaining stack protects and retains it.
    """
    definition = group.definition
    return aws.sagemaker.FeatureGroup(
        name,
        feature_group_name=definition.group_name(platform.environment),
        description=definition.description or None,
        record_identifier_feature_name=definition.record_identifier,
        event_time_feature_name=definition.event_time,
        feature_definitions=[
            aws.sagemaker.FeatureGroupFeatureDefinitionArgs(
                feature_name=feature.name, feature_type=feature.type
            )
            for feature in definition.features
        ],
        role_arn=role_arn,
        online_store_config=_online_store(group.online, platform),
        offline_store_config=_offline_store(group, platform, offline_s3_base),
        opts=platform.retention.stateful(
            parent, depends_on=depends_on, ignore_changes=REPLACING_FIELDS
        ),
    )


def _online_store(
    online: OnlineStoreConfig, platform: PlatformContext
) -> aws.sagemaker.FeatureGroupOnlineStoreConfigArgs:
    """The online store as configured, encrypted with the platform key; or none."""
    if not online.enabled:
        return aws.sagemaker.FeatureGroupOnlineStoreConfigArgs(enable_online_store=False)
    return aws.sagemaker.FeatureGroupOnlineStoreConfigArgs(
        enable_online_store=True,
        storage_type=online.storage_type,
        security_config=aws.sagemaker.FeatureGroupOnlineStoreConfigSecurityConfigArgs(
            kms_key_id=platform.kms_key_arn
        ),
        ttl_duration=aws.sagemaker.FeatureGroupOnlineStoreConfigTtlDurationArgs(
            unit="Days", value=online.ttl_days
        )
        if online.ttl_days
        else None,
    )


def _offline_store(
    group: FeatureGroupConfig, platform: PlatformContext, offline_s3_base: pulumi.Output[str]
) -> aws.sagemaker.FeatureGroupOfflineStoreConfigArgs | None:
    """The offline store under ``offline_s3_base`` with its Glue table, when the group keeps one."""
    if not group.offline.enabled:
        return None
    return aws.sagemaker.FeatureGroupOfflineStoreConfigArgs(
        s3_storage_config=aws.sagemaker.FeatureGroupOfflineStoreConfigS3StorageConfigArgs(
            s3_uri=offline_s3_base, kms_key_id=platform.kms_key_arn
        ),
        data_catalog_config=aws.sagemaker.FeatureGroupOfflineStoreConfigDataCatalogConfigArgs(
            catalog="AwsDataCatalog",
            database=platform.glue_database_name,
            table_name=group.definition.table_name,
        ),
        disable_glue_table_creation=False,
        table_format=group.offline.table_format,
    )


def _offline_uri(group: aws.sagemaker.FeatureGroup) -> pulumi.Output[str | None]:
    """Where the group's offline files land: SageMaker's resolved URI once it exists."""
    return group.offline_store_config.apply(
        lambda config: (
            config.s3_storage_config.resolved_output_s3_uri or config.s3_storage_config.s3_uri
            if config and config.s3_storage_config
            else None
        )
    )
