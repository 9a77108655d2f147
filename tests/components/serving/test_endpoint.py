"""ServingLayer and ServingEndpoint over the real stack files, for dev and prod.

given a stack file run under the recording mock runtime / when the serving resources are read /
then they carry exactly what the stack's ``serving`` section asks for and the platform's rules:
weighted variants, capture, KMS, network isolation, VPC, guardrails with alarms that exist,
autoscaling bounds, alarm actions and least-privilege roles.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.shared.images import PREBUILT_FRAMEWORK_TAGS, PREBUILT_REPOSITORIES
from stacks.config import load_platform_config
from stacks.offline.mock_runtime import MOCK_ACCOUNT_ID, RecordedResource
from tests.conftest import Plan, stack_config, stack_file, with_section

MODEL = "aws:sagemaker/model:Model"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
CODE_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
SERVING_ENDPOINT = "mlplatform:serving:ServingEndpoint"
SERVING_MODEL = "mlplatform:serving:ServingModel"


def serving_section(stack: str) -> dict[str, Any]:
    return stack_file(stack)["ml-platform:serving"]


def endpoints_of(stack: str) -> list[dict[str, Any]]:
    return serving_section(stack)["endpoints"]


def full_name(plan: Plan, endpoint: dict[str, Any]) -> str:
    return f"mlp-{stack_file(plan.run.stack)['ml-platform:environment']}-{endpoint['name']}"


def component(plan: Plan, endpoint: dict[str, Any]) -> RecordedResource:
    return plan.named(full_name(plan, endpoint))


def one(plan: Plan, parent: RecordedResource, type_: str) -> RecordedResource:
    found = [resource for resource in plan.descendants(parent) if resource.type == type_]
    assert len(found) == 1, [resource.name for resource in found]
    return found[0]


def data_bucket(plan: Plan, purpose: str) -> str:
    return plan.run.exports["data"]["bucket_names"][purpose]


def key_arn(plan: Plan) -> str:
    return plan.named(f"mlp-{plan.run.stack}-key").outputs["arn"]


def all_variants(endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    shadow = endpoint.get("shadow_variant")
    return [*endpoint["variants"], *([shadow] if shadow else [])]


def is_serverless(endpoint: dict[str, Any]) -> bool:
    return any("serverless" in variant for variant in endpoint["variants"])


# --------------------------------------------------------------------------------------------
# the stack files deploy what the acceptance asks for
# --------------------------------------------------------------------------------------------


def test_dev_has_an_endpoint_with_two_variants_and_their_traffic_shares(
    plans: dict[str, Plan],
) -> None:
    # given the dev plan / when its serving exports are read
    exported = plans["dev"].run.exports["serving"]["endpoints"]["mlp-dev-churn"]
    # then two variants split the traffic by weight / sum
    assert exported["variants"] == ["blue", "green"]
    assert exported["traffic_shares"] == {"blue": 0.9, "green": 0.1}


def test_prod_has_guarded_rollouts_and_autoscaling(plans: dict[str, Plan]) -> None:
    plan = plans["prod"]
    strategies = {
        endpoint.inputs["name"]: endpoint.inputs["deploymentConfig"]["blueGreenUpdatePolicy"][
            "trafficRoutingConfiguration"
        ]["type"]
        for endpoint in plan.of_type(ENDPOINT)
    }
    assert strategies == {"mlp-prod-churn": "CANARY", "mlp-prod-fraud": "LINEAR"}
    assert len(plan.of_type(SCALING_TARGET)) == 3


# --------------------------------------------------------------------------------------------
# variants, weights, capture, KMS
# --------------------------------------------------------------------------------------------


def test_endpoint_configuration_has_the_configured_variants_and_weights(plan: Plan) -> None:
    for endpoint in endpoints_of(plan.run.stack):
        config = one(plan, component(plan, endpoint), ENDPOINT_CONFIG)
        variants = config.inputs["productionVariants"]
        assert [v["variantName"] for v in variants] == [v["name"] for v in endpoint["variants"]]
        for recorded, wanted in zip(variants, endpoint["variants"], strict=True):
            # integral weights: SageMaker reports floats, an int avoids perpetual diffs
            assert recorded["initialVariantWeight"] == wanted.get("weight", 1)
            assert isinstance(recorded["initialVariantWeight"], int)
            if "serverless" in wanted:
                assert "instanceType" not in recorded
                assert (
                    recorded["serverlessConfig"]["memorySizeInMb"]
                    == wanted["serverless"]["memory_size_mb"]
                )
            else:
                assert recorded["instanceType"] == wanted["instance_type"]
                assert recorded["initialInstanceCount"] == wanted["initial_instance_count"]


def test_models_and_configurations_are_auto_named(plan: Plan) -> None:
    # given immutable configurations / then no explicit name forces delete-before-replace
    for resource in [*plan.of_type(MODEL), *plan.of_type(ENDPOINT_CONFIG)]:
        assert "name" not in resource.inputs, resource.name
        assert not resource.delete_before_replace


def test_each_configuration_points_at_its_own_models(plan: Plan) -> None:
    for endpoint in endpoints_of(plan.run.stack):
        parent = component(plan, endpoint)
        config = one(plan, parent, ENDPOINT_CONFIG)
        for recorded in [
            *config.inputs["productionVariants"],
            *config.inputs.get("shadowProductionVariants", []),
        ]:
            model = plan.named(f"{parent.name}-{recorded['variantName']}-model")
            assert recorded["modelName"] == model.outputs["name"]


def test_capture_goes_to_the_capture_bucket_encrypted(plan: Plan) -> None:
    for endpoint in endpoints_of(plan.run.stack):
        config = one(plan, component(plan, endpoint), ENDPOINT_CONFIG)
        capture = endpoint.get("data_capture", {})
        if not capture.get("enabled", True):
            assert "dataCaptureConfig" not in config.inputs
            continue
        recorded = config.inputs["dataCaptureConfig"]
        assert recorded["enableCapture"] is True
        assert recorded["initialSamplingPercentage"] == capture.get("sampling_percentage", 100)
        assert recorded["destinationS3Uri"] == f"s3://{data_bucket(plan, 'capture')}"
        assert recorded["kmsKeyId"] == key_arn(plan)
        assert [option["captureMode"] for option in recorded["captureOptions"]] == [
            "Input",
            "Output",
        ]
        assert recorded["captureContentTypeHeader"] == {
            "csvContentTypes": ["text/csv"],
            "jsonContentTypes": ["application/json", "application/jsonlines"],
        }


def test_instance_endpoints_encrypt_their_volumes(plan: Plan) -> None:
    for endpoint in endpoints_of(plan.run.stack):
        config = one(plan, component(plan, endpoint), ENDPOINT_CONFIG)
        if is_serverless(endpoint):
            assert "kmsKeyArn" not in config.inputs  # serverless has no volume to encrypt
        else:
            assert config.inputs["kmsKeyArn"] == key_arn(plan)


def test_shadow_variant_is_a_shadow_not_a_production_variant(plans: dict[str, Plan]) -> None:
    plan = plans["prod"]
    config = one(plan, plan.named("mlp-prod-fraud"), ENDPOINT_CONFIG)
    assert [v["variantName"] for v in config.inputs["productionVariants"]] == ["main"]
    assert [v["variantName"] for v in config.inputs["shadowProductionVariants"]] == ["challenger"]


# --------------------------------------------------------------------------------------------
# models: image, code archive, isolation, VPC
# --------------------------------------------------------------------------------------------


def test_models_run_the_configured_image_and_artifact(plan: Plan) -> None:
    models_bucket = data_bucket(plan, "models")
    for endpoint in endpoints_of(plan.run.stack):
        parent = component(plan, endpoint)
        for variant in all_variants(endpoint):
            model = plan.named(f"{parent.name}-{variant['name']}-model")
            container = model.inputs["primaryContainer"]
            if "model" in variant:
                # a registered version: the package names the image and the artifact
                group = f"mlp-{plan.run.stack}-{variant['model']['group']}"
                assert container["modelPackageName"] == (
                    f"arn:aws:sagemaker:us-east-1:{MOCK_ACCOUNT_ID}:model-package/"
                    f"{group}/{variant['model']['version']}"
                )
                assert "image" not in container
                assert "modelDataUrl" not in container
                continue
            assert container["modelDataUrl"] == f"s3://{models_bucket}/{variant['model_artifact']}"
            assert "modelPackageName" not in container
            if "framework" in variant:
                repository = PREBUILT_REPOSITORIES["inference"][variant["framework"]]
                tag = PREBUILT_FRAMEWORK_TAGS[variant["framework"]]
                assert container["image"].endswith(f".amazonaws.com/{repository}:{tag}")
            else:
                image = variant["image"]
                assert container["image"] == (
                    f"{MOCK_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/"
                    f"{image['repository']}:{image['tag']}"
                )


def test_prebuilt_containers_load_our_code_archive(plan: Plan) -> None:
    # given the code archive the layer uploads
    code = plan.layer("serving").of_type(CODE_OBJECT)
    assert len(code) == 1
    code_object = code[0]
    models_bucket = data_bucket(plan, "models")
    assert code_object.inputs["bucket"] == models_bucket
    assert code_object.inputs["serverSideEncryption"] == "aws:kms"
    assert code_object.inputs["kmsKeyId"] == key_arn(plan)
    # then every model on a container that downloads code (scikit-learn, XGBoost; also one
    # built from a registered version) points the container at it
    for endpoint in endpoints_of(plan.run.stack):
        parent = component(plan, endpoint)
        for variant in all_variants(endpoint):
            if variant.get("framework") not in ("sklearn", "xgboost"):
                continue
            model = plan.named(f"{parent.name}-{variant['name']}-model")
            environment = model.inputs["primaryContainer"]["environment"]
            assert environment["SAGEMAKER_PROGRAM"] == "inference.py"
            assert environment["SAGEMAKER_SUBMIT_DIRECTORY"] == (
                f"s3://{models_bucket}/{code_object.inputs['key']}"
            )


def test_network_isolation_where_the_container_needs_no_network(plan: Plan) -> None:
    # our own image needs nothing at start-up: isolated; prebuilt containers download the code
    for model in plan.of_type(MODEL):
        prebuilt = "SAGEMAKER_SUBMIT_DIRECTORY" in model.inputs["primaryContainer"]["environment"]
        assert model.inputs["enableNetworkIsolation"] is (not prebuilt), model.name


def test_models_run_in_the_private_vpc_unless_serverless(plan: Plan) -> None:
    subnets = plan.run.exports["data"]["subnet_ids"]
    security_group = plan.run.exports["data"]["workload_security_group_id"]
    for endpoint in endpoints_of(plan.run.stack):
        parent = component(plan, endpoint)
        for variant in all_variants(endpoint):
            model = plan.named(f"{parent.name}-{variant['name']}-model")
            if "serverless" in variant:
                assert "vpcConfig" not in model.inputs
            else:
                assert model.inputs["vpcConfig"] == {
                    "securityGroupIds": [security_group],
                    "subnets": subnets,
                }


# --------------------------------------------------------------------------------------------
# least privilege
# --------------------------------------------------------------------------------------------


def model_policy(plan: Plan, model_component: RecordedResource) -> dict[str, Any]:
    role = one(plan, model_component, ROLE)
    (policy,) = plan.children(role, ROLE_POLICY)
    return json.loads(policy.inputs["policy"])


def test_execution_roles_trust_sagemaker_of_this_account_only(plan: Plan) -> None:
    for model_component in plan.of_type(SERVING_MODEL):
        trust = json.loads(one(plan, model_component, ROLE).inputs["assumeRolePolicy"])
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == MOCK_ACCOUNT_ID


def test_execution_policies_have_no_wildcard_actions_and_read_only_their_artifact(
    plan: Plan,
) -> None:
    models_bucket = data_bucket(plan, "models")
    for endpoint in endpoints_of(plan.run.stack):
        parent = component(plan, endpoint)
        for variant in all_variants(endpoint):
            model_component = plan.named(f"{parent.name}-{variant['name']}")
            document = model_policy(plan, model_component)
            statements = {statement["Sid"]: statement for statement in document["Statement"]}
            actions = [
                action
                for statement in document["Statement"]
                for action in (
                    [statement["Action"]]
                    if isinstance(statement["Action"], str)
                    else statement["Action"]
                )
            ]
            assert not [action for action in actions if "*" in action], actions
            assert all(statement["Effect"] == "Allow" for statement in document["Statement"])
            # reads its own model archive (and the code archive for prebuilt containers)
            readable = statements["ReadModelAndCode"]["Resource"]
            # a registered version's artifact is one of the training outputs
            artifact = "training/*" if "model" in variant else variant["model_artifact"]
            assert f"arn:aws:s3:::{models_bucket}/{artifact}" in readable
            downloads_code = variant.get("framework") in ("sklearn", "xgboost")
            assert len(readable) == (2 if downloads_code else 1)
            # writes capture only under its endpoint's prefix
            assert statements["WriteCapture"]["Resource"] == (
                f"arn:aws:s3:::{data_bucket(plan, 'capture')}/{full_name(plan, endpoint)}/*"
            )
            # the key only through S3
            assert statements["UsePlatformKeyThroughS3"]["Resource"] == key_arn(plan)
            assert statements["UsePlatformKeyThroughS3"]["Condition"] == {
                "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
            }
            # ECR pull only for our own image, on its repository
            if "image" in variant:
                assert statements["PullOwnImage"]["Resource"].endswith(
                    f":repository/{variant['image']['repository']}"
                )
            else:
                assert "PullOwnImage" not in statements
            # resource "*" only where AWS offers no resource-level permission
            star = {sid for sid, statement in statements.items() if statement["Resource"] == "*"}
            assert star <= {"EcrLogin", "DescribeNetwork", "PublishEndpointMetrics"}


# --------------------------------------------------------------------------------------------
# alarms, rollback, autoscaling
# --------------------------------------------------------------------------------------------


def test_every_production_variant_has_three_alarms_that_page_the_topic(plan: Plan) -> None:
    (topic,) = plan.layer("serving").of_type(TOPIC)
    assert topic.inputs["kmsMasterKeyId"] == key_arn(plan)
    for endpoint in endpoints_of(plan.run.stack):
        parent = component(plan, endpoint)
        alarms = plan.children(parent, ALARM)
        expected = {
            (variant["name"], metric)
            for variant in endpoint["variants"]
            for metric in ("Invocation5XXErrors", "InvocationModelErrors", "ModelLatency")
        }
        assert {
            (alarm.inputs["dimensions"]["VariantName"], alarm.inputs["metricName"])
            for alarm in alarms
        } == expected
        for alarm in alarms:
            assert alarm.inputs["namespace"] == "AWS/SageMaker"
            assert alarm.inputs["dimensions"]["EndpointName"] == full_name(plan, endpoint)
            assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]]
            assert alarm.inputs["treatMissingData"] == "notBreaching"
        latency = [alarm for alarm in alarms if alarm.inputs["metricName"] == "ModelLatency"]
        wanted_ms = endpoint.get("alarms", {}).get("latency_p99_ms", 500)
        for alarm in latency:
            assert alarm.inputs["extendedStatistic"] == "p99"
            assert alarm.inputs["threshold"] == wanted_ms * 1000  # microseconds


def test_rollback_alarms_are_the_alarms_in_the_stack(plan: Plan) -> None:
    for endpoint in endpoints_of(plan.run.stack):
        parent = component(plan, endpoint)
        recorded = one(plan, parent, ENDPOINT)
        assert recorded.inputs["name"] == full_name(plan, endpoint)
        if is_serverless(endpoint):
            assert "deploymentConfig" not in recorded.inputs
            continue
        deployment = recorded.inputs["deploymentConfig"]
        rollback = {
            alarm["alarmName"] for alarm in deployment["autoRollbackConfiguration"]["alarms"]
        }
        assert rollback == {alarm.outputs["name"] for alarm in plan.children(parent, ALARM)}
        rollout = endpoint.get("rollout", {})
        policy = deployment["blueGreenUpdatePolicy"]
        routing = policy["trafficRoutingConfiguration"]
        strategy = rollout.get("strategy", "CANARY")
        assert routing["type"] == strategy
        assert policy["terminationWaitInSeconds"] == rollout.get("baking_period_seconds", 600)
        step = {"type": "CAPACITY_PERCENT", "value": rollout.get("step_percent", 10)}
        if strategy == "CANARY":
            assert routing["canarySize"] == step
        if strategy == "LINEAR":
            assert routing["linearStepSize"] == step


def test_autoscaling_bounds_come_from_config(plan: Plan) -> None:
    targets = {target.inputs["resourceId"]: target for target in plan.of_type(SCALING_TARGET)}
    expected = set()
    for endpoint in endpoints_of(plan.run.stack):
        parent = component(plan, endpoint)
        recorded_endpoint = one(plan, parent, ENDPOINT)
        for variant in endpoint["variants"]:
            scaling = variant.get("autoscaling")
            if scaling is None:
                continue
            resource_id = f"endpoint/{full_name(plan, endpoint)}/variant/{variant['name']}"
            expected.add(resource_id)
            target = targets[resource_id]
            assert target.inputs["serviceNamespace"] == "sagemaker"
            assert target.inputs["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
            assert target.inputs["minCapacity"] == variant["initial_instance_count"]
            assert target.inputs["maxCapacity"] == scaling["max_capacity"]
            assert recorded_endpoint.urn in target.depends_on  # the variant must exist first
            (policy,) = plan.children(target, SCALING_POLICY)
            tracking = policy.inputs["targetTrackingScalingPolicyConfiguration"]
            assert tracking["predefinedMetricSpecification"] == {
                "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            }
            assert tracking["targetValue"] == scaling.get("target_invocations_per_instance", 100)
    assert set(targets) == expected


def test_alarm_topic_accepts_only_this_accounts_alarms_over_tls(plan: Plan) -> None:
    (policy,) = plan.layer("serving").of_type(TOPIC_POLICY)
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    alarms = statements["AllowCloudWatchAlarmsOfThisAccount"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID}}
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"


def test_platform_key_lets_alarms_publish_to_encrypted_topics(plan: Plan) -> None:
    key = plan.named(f"mlp-{plan.run.stack}-key")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    statement = statements["AllowCloudWatchAlarmsToEncryptedTopics"]
    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID}}


# --------------------------------------------------------------------------------------------
# teardown
# --------------------------------------------------------------------------------------------


def test_endpoint_logs_are_encrypted_and_kept_in_prod_only(plan: Plan) -> None:
    retained = plan.run.stack == "prod"
    for endpoint in endpoints_of(plan.run.stack):
        logs = one(plan, component(plan, endpoint), LOG_GROUP)
        assert logs.inputs["name"] == f"/aws/sagemaker/Endpoints/{full_name(plan, endpoint)}"
        assert logs.inputs["kmsKeyId"] == key_arn(plan)
        assert (logs.protect, logs.retain_on_delete) == (retained, retained)
    # endpoints themselves are not data: a destroy removes them in every stack
    for resource in plan.of_type(ENDPOINT) + plan.of_type(MODEL) + plan.of_type(ENDPOINT_CONFIG):
        assert not resource.protect


def test_removing_the_serving_layer_removes_only_serving(run_stack: Any) -> None:
    # given dev without the serving layer / when planned / then no serving resource remains
    flat = with_section(stack_config("dev"), "layers", ["data"])
    plan = run_stack("dev", flat)
    assert not [
        r for r in plan.resources if r.type.startswith(("mlplatform:serving", "aws:sagemaker"))
    ]
    assert "serving" not in plan.run.exports


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_are_valid_serving_config(stack: str) -> None:
    assert load_platform_config(stack, stack_config(stack)).serving.endpoints


def test_pytorch_variants_load_code_from_the_model_archive_and_are_isolated(
    run_stack: Any,
) -> None:
    # given dev's churn endpoint with its blue variant on the PyTorch container
    config = stack_file("dev")
    config["ml-platform:serving"]["endpoints"][0]["variants"][0]["framework"] = "pytorch"
    flat = with_section(stack_config("dev"), "serving", config["ml-platform:serving"])
    plan = run_stack("dev", flat)
    # when its model is read
    model = plan.named("mlp-dev-churn-blue-model")
    container = model.inputs["primaryContainer"]
    # then the PyTorch image runs inference.py from code/ in model.tar.gz: no download, isolated
    assert container["image"].endswith("/pytorch-inference:2.6.0-cpu-py312")
    assert container["environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert "SAGEMAKER_SUBMIT_DIRECTORY" not in container["environment"]
    assert model.inputs["enableNetworkIsolation"] is True
    # and its role reads its model archive only
    document = model_policy(plan, plan.named("mlp-dev-churn-blue"))
    (read,) = [s for s in document["Statement"] if s["Sid"] == "ReadModelAndCode"]
    assert read["Resource"] == [
        f"arn:aws:s3:::{plan.run.exports['data']['bucket_names']['models']}/churn/v1/model.tar.gz"
    ]
