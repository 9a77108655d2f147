"""FeatureStoreLayer over the real stack files, for dev and prod.

given a stack file run under the recording mock runtime / when the feature-store layer's resources
are read / then every configured group version exists with KMS on both stores, its offline store
in the processed bucket with a Glue table of the data layer's database, fields that would replace
it ignored and owned by its schema guard, a role scoped to these groups, an encrypted Athena
workgroup, and grants for training, notebooks and served models.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.feature_store.layer import REPLACING_FIELDS
from stacks.config import load_platform_config
from stacks.offline.mock_runtime import DYNAMIC_TYPE_PREFIX, MOCK_ACCOUNT_ID, RecordedResource
from tests.conftest import Plan, stack_config, with_section

GROUP = "aws:sagemaker/featureGroup:FeatureGroup"
SCHEMA = f"{DYNAMIC_TYPE_PREFIX}/featurestore:FeatureSchema"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
WORKGROUP = "aws:athena/workgroup:Workgroup"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
KEY = "aws:kms/key:Key"


@pytest.fixture
def store(plan: Plan) -> Plan:
    """The feature_store layer of each stack."""
    return plan.layer("feature_store")


def key_arn(plan: Plan) -> str:
    (key,) = plan.of_type(KEY)
    return key.outputs["arn"]


def processed_bucket(plan: Plan) -> str:
    (bucket,) = [r for r in plan.of_type("aws:s3/bucket:Bucket") if r.name.endswith("-processed")]
    return bucket.outputs["bucket"]


def statements(policy: RecordedResource) -> dict[str, dict[str, Any]]:
    document = json.loads(policy.inputs["policy"])
    return {statement["Sid"]: statement for statement in document["Statement"]}


def configured_groups(stack: str) -> list[Any]:
    return list(load_platform_config(stack, stack_config(stack)).feature_store.groups)


def test_one_group_per_configured_version_named_by_environment_and_version(
    store: Plan, plan: Plan
) -> None:
    # given the stack's configured group versions
    stack = plan.run.stack
    expected = {f"mlp-{stack}-{g.name}-v{g.version}" for g in configured_groups(stack)}
    # when the layer's groups are read
    names = {group.inputs["featureGroupName"] for group in store.of_type(GROUP)}
    # then each version is its own group
    assert names == expected and expected


def test_groups_have_the_configured_schema(store: Plan, plan: Plan) -> None:
    for config in configured_groups(plan.run.stack):
        # given one configured version / when its group is read
        group = store.named(f"mlp-{plan.run.stack}-features-{config.name}_v{config.version}")
        # then features, identifier and event time are the config's, in order
        assert [
            (f["featureName"], f["featureType"]) for f in group.inputs["featureDefinitions"]
        ] == list(config.features.items())
        assert group.inputs["recordIdentifierFeatureName"] == config.record_identifier
        assert group.inputs["eventTimeFeatureName"] == config.event_time


def test_both_stores_are_encrypted_with_the_platform_key(store: Plan, plan: Plan) -> None:
    key = key_arn(plan)
    for group in store.of_type(GROUP):
        online, offline = group.inputs["onlineStoreConfig"], group.inputs["offlineStoreConfig"]
        assert online["enableOnlineStore"] is True
        assert online["securityConfig"]["kmsKeyId"] == key
        assert offline["s3StorageConfig"]["kmsKeyId"] == key


def test_offline_store_lies_in_the_processed_bucket_with_a_glue_table(
    store: Plan, plan: Plan
) -> None:
    bucket = processed_bucket(plan)
    (database,) = plan.of_type("aws:glue/catalogDatabase:CatalogDatabase")
    exports = plan.run.exports["feature_store"]["groups"]
    for group in store.of_type(GROUP):
        offline = group.inputs["offlineStoreConfig"]
        table = offline["dataCatalogConfig"]["tableName"]
        # the offline files go under feature-store/ of the processed bucket
        assert offline["s3StorageConfig"]["s3Uri"] == f"s3://{bucket}/feature-store"
        # into a named table of the data layer's database, which SageMaker creates
        assert offline["dataCatalogConfig"]["database"] == database.inputs["name"]
        assert offline["disableGlueTableCreation"] is False
        # and the outputs name the group, its ARN, the resolved location and the table
        output = exports[table]
        assert output["name"] == group.inputs["featureGroupName"]
        assert output["arn"] == group.outputs["arn"]
        assert output["glue_table"] == f"{database.inputs['name']}.{table}"
        assert output["offline_s3_uri"].startswith(
            f"s3://{bucket}/feature-store/{MOCK_ACCOUNT_ID}/"
        )


def test_prod_groups_use_the_configured_store_options(plans: dict[str, Plan]) -> None:
    # given the prod stack's transactions group (InMemory, 7-day TTL, Iceberg)
    group = plans["prod"].named("mlp-prod-features-transactions_v1")
    assert group.inputs["onlineStoreConfig"]["storageType"] == "InMemory"
    assert group.inputs["onlineStoreConfig"]["ttlDuration"] == {"unit": "Days", "value": 7}
    assert group.inputs["offlineStoreConfig"]["tableFormat"] == "Iceberg"


def test_fields_that_would_replace_a_group_are_ignored_and_owned_by_its_schema(
    store: Plan,
) -> None:
    for group in store.of_type(GROUP):
        # given a group / then a config edit can never make pulumi-aws replace it
        assert group.ignore_changes == REPLACING_FIELDS
        # and its schema guard, a child created after it, carries the definition and settings
        (schema,) = store.children(group, SCHEMA)
        assert group.urn in schema.depends_on
        assert schema.inputs["group_name"] == group.inputs["featureGroupName"]
        definition = schema.inputs["definition"]
        assert [(f["name"], f["type"]) for f in definition["features"]] == [
            (f["featureName"], f["featureType"]) for f in group.inputs["featureDefinitions"]
        ]
        assert set(schema.inputs["settings"]) == {
            "online_store",
            "storage_type",
            "offline_store",
            "table_format",
            "description",
        }
        # the plan does not carry the pickled provider code
        assert "__provider" not in schema.inputs


def test_prod_groups_are_protected_and_retained_and_dev_groups_are_not(
    plans: dict[str, Plan],
) -> None:
    prod, dev = plans["prod"].layer("feature_store"), plans["dev"].layer("feature_store")
    assert all(g.protect and g.retain_on_delete for g in prod.of_type(GROUP))
    assert not any(g.protect or g.retain_on_delete for g in dev.of_type(GROUP))
    # the guard holds no data, so it is never protected (it deletes nothing)
    assert not any(s.protect or s.retain_on_delete for s in prod.of_type(SCHEMA))


def test_offline_store_role_is_scoped_to_the_prefix_and_these_tables(
    store: Plan, plan: Plan
) -> None:
    # given the role SageMaker writes offline stores with
    (policy,) = [p for p in store.of_type(ROLE_POLICY) if p.name.endswith("-offline-store")]
    found = statements(policy)
    bucket_arn = f"arn:aws:s3:::{processed_bucket(plan)}"
    # then objects only under feature-store/, listing only that prefix
    assert found["WriteOfflineStore"]["Resource"] == f"{bucket_arn}/feature-store/*"
    assert found["ListOfflineStore"]["Condition"] == {
        "StringLike": {"s3:prefix": ["feature-store/*"]}
    }
    # the key only through S3
    assert found["UsePlatformKeyThroughS3"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "s3.us-east-1.amazonaws.com"
    }
    # Glue: the catalog, the database and exactly this stack's tables
    tables = sorted(
        g.inputs["offlineStoreConfig"]["dataCatalogConfig"]["tableName"]
        for g in store.of_type(GROUP)
    )
    glue = found["OfflineStoreTables"]["Resource"]
    assert sorted(arn.rsplit("/", 1)[1] for arn in glue if ":table/" in arn) == tables
    # and no wildcard action anywhere
    for statement in found.values():
        assert all("*" not in action for action in statement["Action"])
    # Iceberg compaction deletes objects, so only a stack with an Iceberg group may
    iceberg = any(
        g.inputs["offlineStoreConfig"]["tableFormat"] == "Iceberg" for g in store.of_type(GROUP)
    )
    assert ("s3:DeleteObject" in found["WriteOfflineStore"]["Action"]) is iceberg


def test_athena_workgroup_encrypts_results_and_enforces_its_settings(
    store: Plan, plan: Plan
) -> None:
    (workgroup,) = store.of_type(WORKGROUP)
    configuration = workgroup.inputs["configuration"]
    result = configuration["resultConfiguration"]
    assert configuration["enforceWorkgroupConfiguration"] is True
    assert result["encryptionConfiguration"] == {
        "encryptionOption": "SSE_KMS",
        "kmsKeyArn": key_arn(plan),
    }
    assert result["outputLocation"] == f"s3://{processed_bucket(plan)}/athena-results/"
    cutoff_gb = load_platform_config(plan.run.stack, stack_config(plan.run.stack)).feature_store
    assert configuration["bytesScannedCutoffPerQuery"] == (
        cutoff_gb.athena.bytes_scanned_cutoff_gb * 1024**3
    )


def test_runtime_and_athena_are_reachable_from_the_private_vpc(store: Plan) -> None:
    services = {e.inputs["serviceName"] for e in store.of_type(ENDPOINT)}
    assert services == {
        "com.amazonaws.us-east-1.sagemaker.featurestore-runtime",
        "com.amazonaws.us-east-1.athena",
    }
    assert all(e.inputs["privateDnsEnabled"] for e in store.of_type(ENDPOINT))


def grants(plan: Plan, suffix: str) -> list[RecordedResource]:
    return [p for p in plan.of_type(ROLE_POLICY) if p.name.endswith(suffix)]


def test_training_reads_notebooks_read_and_write_models_only_look_up(plan: Plan) -> None:
    env = plan.run.stack
    # given the grants the program attached to other layers' roles
    (training,) = grants(plan, f"mlp-{env}-training-features-read")
    model_reads = grants(plan, "-features-read")
    # then training may query the offline store in the workgroup
    found = statements(training)
    assert found["QueryOfflineStore"]["Resource"].endswith(f":workgroup/mlp-{env}-features")
    assert "sagemaker:PutRecord" not in json.dumps(found)
    # and each served model may only look up online records of these groups
    models = [p for p in model_reads if "training" not in p.name and "notebooks" not in p.name]
    assert models
    group_arns = sorted(g.outputs["arn"] for g in plan.of_type(GROUP))
    for policy in models:
        found = statements(policy)
        assert "QueryOfflineStore" not in found and "ReadOfflineTables" not in found
        assert found["ReadOnlineStore"]["Action"] == [
            "sagemaker:GetRecord",
            "sagemaker:BatchGetRecord",
        ]
        assert sorted(found["ReadOnlineStore"]["Resource"]) == group_arns
    # the notebooks role (instance or Studio) also ingests
    (write,) = grants(plan, f"mlp-{env}-notebooks-features-write")
    assert statements(write)["WriteRecords"]["Resource"] == group_arns


def test_grants_live_with_the_role_they_extend(plan: Plan) -> None:
    # so removing either layer removes the grant with it
    (training,) = grants(plan, f"mlp-{plan.run.stack}-training-features-read")
    parent = plan.by_urn[training.parent]
    assert parent.type == "mlplatform:training:TrainingRole"


def test_without_the_layer_there_are_no_groups_and_no_grants(run_stack: Any) -> None:
    # given dev without the feature_store layer
    flat = with_section(stack_config("dev"), "layers", ["data", "training", "gpu", "serving"])
    # when planned
    plan = run_stack("dev", flat)
    # then nothing of the layer is created and nobody is granted anything
    assert not plan.of_type(GROUP) and not plan.of_type(WORKGROUP)
    assert not grants(plan, "-features-read") and not grants(plan, "-features-write")
