"""PlatformNamespaces and the per-need network policies, on their own under the mock runtime.

given the namespaces of an environment / when their resources are read / then each enforces the
restricted Pod Security Standard, denies all traffic by default and allows only DNS and HTTPS to
the VPC's endpoints and S3's ranges; the per-need helpers allow exactly the traffic they name.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.kubernetes import network_policies
from components.kubernetes.namespaces import (
    PURPOSES,
    PlatformNamespaces,
    PlatformNamespacesArgs,
)
from stacks.offline.mock_runtime import RecordedResource, run_offline
from tests.components.kubernetes.cluster import mock_cluster

NAMESPACE = "kubernetes:core/v1:Namespace"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
S3_CIDRS = ["52.216.0.0/15", "3.5.0.0/19"]


def build_namespaces() -> list[RecordedResource]:
    def program() -> dict[str, Any]:
        cluster = mock_cluster()
        namespaces = PlatformNamespaces(
            "namespaces",
            PlatformNamespacesArgs(environment="dev", vpc_cidr="10.20.0.0/16", s3_cidrs=S3_CIDRS),
            cluster,
        )
        network_policies.allow(
            "allow-knative-to-predictors",
            direction="ingress",
            namespace=namespaces.names["serving"],
            pod_labels=None,
            peers=[network_policies.pods_in("knative-serving")],
            ports=[8012],
            opts=cluster.options(namespaces),
        )
        network_policies.allow_within_namespace(
            "allow-training-workers",
            namespace=namespaces.names["training"],
            opts=cluster.options(namespaces),
        )
        return {"names": namespaces.names}

    return run_offline("dev", {"aws:region": "us-east-1"}, program).resources


@pytest.fixture(scope="module")
def resources() -> list[RecordedResource]:
    return build_namespaces()


def policies(resources: list[RecordedResource], namespace: str) -> dict[str, dict[str, Any]]:
    return {
        resource.inputs["metadata"]["name"]: resource.inputs["spec"]
        for resource in resources
        if resource.type == POLICY and resource.inputs["metadata"]["namespace"] == namespace
    }


@pytest.fixture(params=PURPOSES)
def namespace_policies(
    resources: list[RecordedResource], request: pytest.FixtureRequest
) -> dict[str, dict[str, Any]]:
    """The policies of each purpose's namespace in turn (the test runs once per purpose)."""
    return policies(resources, f"mlp-dev-{request.param}")


def test_every_namespace_enforces_audits_and_warns_on_the_restricted_standard(
    resources: list[RecordedResource],
) -> None:
    # given the namespaces
    namespaces = [resource for resource in resources if resource.type == NAMESPACE]
    # then there is one per purpose, prefixed with the environment
    assert sorted(ns.inputs["metadata"]["name"] for ns in namespaces) == sorted(
        f"mlp-dev-{purpose}" for purpose in PURPOSES
    )
    # and each enforces, audits and warns on "restricted"
    for namespace in namespaces:
        labels = namespace.inputs["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_each_namespace_denies_all_traffic_by_default(
    namespace_policies: dict[str, dict[str, Any]],
) -> None:
    # given the namespace's default policy
    deny = namespace_policies["default-deny"]
    # then it selects every pod, for both directions, and allows nothing
    assert deny["podSelector"] == {}
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny and "egress" not in deny


def test_each_namespace_allows_dns_to_cluster_dns_only(
    namespace_policies: dict[str, dict[str, Any]],
) -> None:
    # given the DNS policy
    dns = namespace_policies["allow-dns"]
    (rule,) = dns["egress"]
    # then it reaches only kube-dns in kube-system, on port 53 over UDP and TCP
    (peer,) = rule["to"]
    assert peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }
    assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert sorted((port["protocol"], port["port"]) for port in rule["ports"]) == [
        ("TCP", 53),
        ("UDP", 53),
    ]


def test_aws_egress_is_https_to_the_vpc_endpoints_and_s3_ranges_only(
    namespace_policies: dict[str, dict[str, Any]],
) -> None:
    # given the AWS API policy
    aws_apis = namespace_policies["allow-aws-apis"]
    (rule,) = aws_apis["egress"]
    # then its destinations are the VPC and S3's ranges, on 443 only
    assert [peer["ipBlock"]["cidr"] for peer in rule["to"]] == ["10.20.0.0/16", *S3_CIDRS]
    assert rule["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert aws_apis["policyTypes"] == ["Egress"]


def test_per_need_policies_allow_only_what_they_name(resources: list[RecordedResource]) -> None:
    # given the predictor ingress and the training workers' policies
    serving = policies(resources, "mlp-dev-serving")["allow-knative-to-predictors"]
    training = policies(resources, "mlp-dev-training")["allow-training-workers"]
    # then the predictors accept Knative's namespace on 8012 only
    (rule,) = serving["ingress"]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "knative-serving"
    }
    assert rule["ports"] == [{"port": 8012, "protocol": "TCP"}]
    assert serving["policyTypes"] == ["Ingress"]
    # and the training workers reach each other (any port) and nothing else
    same = {"kubernetes.io/metadata.name": "mlp-dev-training"}
    assert training["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == same
    assert training["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"] == same
    assert "ports" not in training["ingress"][0]


def test_an_unknown_purpose_is_refused() -> None:
    # given a purpose the platform does not know
    def program() -> None:
        PlatformNamespaces(
            "namespaces",
            PlatformNamespacesArgs(
                environment="dev", vpc_cidr="10.0.0.0/16", s3_cidrs=[], purposes=["mining"]
            ),
            mock_cluster(),
        )

    # when the namespaces are built / then the error names it
    with pytest.raises(ValueError, match="unknown namespace purposes: mining"):
        run_offline("dev", {"aws:region": "us-east-1"}, program)
