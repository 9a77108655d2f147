"""KServeEndpoint under the recording mock runtime.

given a KServeEndpoint built with some args / when its recorded InferenceService and IAM policy
are read / then the predictor runs our server in serverless mode with the canary share, probes,
resources and restricted pod the args and the platform's rules ask for, and the role reads only
the model archive.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from components.kubernetes.inference_service import (
    QUEUE_PROXY_DRAIN_SECONDS,
    TERMINATION_GRACE_SECONDS,
    KServeEndpoint,
    KServeEndpointArgs,
)
from components.kubernetes.spec import KServeEndpointConfig, ResourcesConfig
from components.shared.spec_rules import ImageConfig
from stacks.offline.mock_runtime import PlanRun
from tests.components.kubernetes.cluster import run_on_cluster
from tests.components.kubernetes.pod_templates import pod_template_problems, pod_templates
from tests.components.kubernetes.recorded import one
from workloads.inference.contract import DEFAULT_DRAIN_SECONDS

ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
BUCKET_ARN = "arn:aws:s3:::ml-platform-dev-models"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/abc"

BASE = KServeEndpointArgs(
    endpoint=KServeEndpointConfig(
        name="churn",
        image=ImageConfig(repository="ml-platform/serving", tag="1.4.0"),
        model_artifact="churn/v7/model.tar.gz",
    ),
    namespace="ml-platform-dev-serving",
    image_repository="123456789012.dkr.ecr.us-east-1.amazonaws.com/ml-platform/serving",
    model_uri="s3://ml-platform-dev-models/churn/v7/model.tar.gz",
    models_bucket_arn=BUCKET_ARN,
    kms_key_arn=KEY_ARN,
    region="us-east-1",
)


def endpoint_with(args: KServeEndpointArgs = BASE, **changes: Any) -> KServeEndpointArgs:
    """``args`` with ``changes`` to its endpoint entry (unchecked: the component's checks run)."""
    return dataclasses.replace(args, endpoint=args.endpoint.model_copy(update=changes))


def deploy(args: KServeEndpointArgs) -> PlanRun:
    return run_on_cluster(
        lambda cluster, opts: KServeEndpoint("churn", args, cluster, opts).exports()
    )


def predictor(run: PlanRun) -> dict[str, Any]:
    return one(run, ISVC).inputs["spec"]["predictor"]


@pytest.fixture(scope="module")
def base() -> PlanRun:
    return deploy(BASE)


def test_the_service_runs_serverless_so_canaries_work(base: PlanRun) -> None:
    metadata = one(base, ISVC).inputs["metadata"]
    assert metadata["annotations"] == {"serving.kserve.io/deploymentMode": "Serverless"}
    assert metadata["name"] == "churn"
    assert one(base, ISVC).inputs["apiVersion"] == "serving.kserve.io/v1beta1"


@pytest.mark.parametrize(("percent", "expected"), [(None, None), (100, None), (10, 10), (0, 0)])
def test_the_canary_share_lands_in_the_predictor_only_below_100(
    percent: int | None, expected: int | None
) -> None:
    # given an endpoint with a canary share (or none)
    run = deploy(endpoint_with(canary_traffic_percent=percent))
    # when the predictor is read / then the share is there only when it splits traffic
    assert predictor(run).get("canaryTrafficPercent") == expected
    assert run.exports["canary_traffic_percent"] == percent


def test_autoscaling_follows_the_args() -> None:
    run = deploy(endpoint_with(min_replicas=0, max_replicas=7, scale_metric="rps", scale_target=50))
    spec = predictor(run)
    assert (spec["minReplicas"], spec["maxReplicas"]) == (0, 7)
    assert (spec["scaleMetric"], spec["scaleTarget"]) == ("rps", 50)


def test_the_container_serves_the_unpacked_model_on_8080_ready_on_ping(base: PlanRun) -> None:
    spec = predictor(base)
    (container,) = spec["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    # then KServe's storage initializer fetches the archive (STORAGE_URI) into /mnt/models
    assert container["name"] == "kserve-container"
    assert env["STORAGE_URI"] == BASE.model_uri
    assert env["SM_MODEL_DIR"] == "/mnt/models"
    assert container["args"] == [
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
        "--model-dir",
        "/mnt/models",
    ]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ping", "port": 8080}
    assert container["livenessProbe"]["httpGet"] == {"path": "/ping", "port": 8080}
    assert container["image"] == f"{BASE.image_repository}:1.4.0"
    assert spec["serviceAccountName"] == "churn-predictor"
    assert spec["automountServiceAccountToken"] is False


def test_resources_are_requested_and_limited(base: PlanRun) -> None:
    (container,) = predictor(base)["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    assert "tolerations" not in predictor(base)


def test_a_gpu_predictor_asks_for_gpus_and_lands_on_gpu_nodes() -> None:
    run = deploy(
        endpoint_with(resources=ResourcesConfig(gpus=1, cpu="4", memory="16Gi", cpu_limit="6"))
    )
    spec = predictor(run)
    (container,) = spec["containers"]
    assert container["resources"]["limits"] == {"cpu": "6", "memory": "16Gi", "nvidia.com/gpu": "1"}
    assert spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert spec["nodeSelector"] == {"ml-platform/accelerator": "nvidia"}


def test_the_predictor_pod_meets_the_restricted_rules(base: PlanRun) -> None:
    found = list(pod_templates(one(base, ISVC)))
    assert len(found) == 1
    assert [problem for where, pod in found for problem in pod_template_problems(where, pod)] == []
    # and it sets nothing Knative refuses without feature flags
    (container,) = predictor(base)["containers"]
    assert "privileged" not in container["securityContext"]
    assert "securityContext" not in predictor(base)


def test_the_role_reads_only_the_model_archive(base: PlanRun) -> None:
    policy = json.loads(one(base, ROLE_POLICY).inputs["policy"])
    read, kms = policy["Statement"]
    assert read == {
        "Sid": "ReadModelArchive",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET_ARN}/churn/v7/model.tar.gz",
    }
    assert kms["Resource"] == KEY_ARN
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    assert one(base, SERVICE_ACCOUNT).inputs["metadata"]["name"] == "churn-predictor"


def test_the_inference_service_waits_for_its_service_account(base: PlanRun) -> None:
    isvc = one(base, ISVC)
    # (depending on the component is depending on each of its children)
    assert one(base, SERVICE_ACCOUNT).urn in isvc.depends_on
    assert one(base, "aws:iam/role:Role").urn in isvc.depends_on


def test_invalid_args_are_reported_together() -> None:
    args = endpoint_with(
        dataclasses.replace(BASE, model_uri="s3://bucket/model.zip"),
        name="Churn",
        canary_traffic_percent=120,
        min_replicas=4,
        max_replicas=2,
        image=ImageConfig.model_construct(repository="ml-platform/serving", tag="latest"),
    )
    with pytest.raises(ValueError) as raised:
        deploy(args)
    assert str(raised.value) == (
        "Invalid KServe endpoint Churn: name: 'Churn' is not a DNS label of at most 45 "
        "characters; model_uri: 's3://bucket/model.zip' is not s3://<bucket>/<key>.tar.gz; "
        "image_tag: image 123456789012.dkr.ecr.us-east-1.amazonaws.com/ml-platform/serving: tag 'latest' is not "
        "pinned (never 'latest')"
    )


def test_exports_name_the_service_and_its_address(base: PlanRun) -> None:
    assert base.exports["name"] == "churn"
    assert base.exports["url"] == "http://churn.ml-platform-dev-serving.svc.cluster.local"
    assert base.exports["invocations_url"].endswith("/invocations")


def test_the_grace_period_outlasts_the_queue_proxy_drain_and_the_servers_drain(
    base: PlanRun,
) -> None:
    # given the predictor as recorded
    spec = predictor(base)
    # then its timeout, which Knative makes the pods' terminationGracePeriodSeconds, is 60 s
    assert spec["timeout"] == TERMINATION_GRACE_SECONDS == 60
    # and it covers Knative's 30 s queue-proxy drain plus our server's drain bound, with room
    assert TERMINATION_GRACE_SECONDS >= QUEUE_PROXY_DRAIN_SECONDS + DEFAULT_DRAIN_SECONDS + 10
    # and the pod spec does not set the field itself (Knative's webhook refuses it)
    assert "terminationGracePeriodSeconds" not in spec
