"""The platform's namespaces: restricted Pod Security, and nothing reaches a pod unless allowed.

Each workload gets its own namespace (serving, training, tracking, notebooks) that

* enforces the Kubernetes "restricted" Pod Security Standard (and audits and warns on it), so
  the API server itself refuses a pod that runs as root, escalates privileges, keeps
  capabilities or skips seccomp, whoever creates it (an operator, a Helm chart, a user);
* denies all ingress and egress by default (a NetworkPolicy selecting every pod), and then
  allows only DNS and HTTPS to the AWS APIs: the VPC's interface endpoints (STS, ECR, logs...)
  and S3's address ranges (its gateway endpoint's prefix list). What a workload needs beyond
  that (predictors reached by Knative, MLflow reached from training and notebooks, the workers
  of one training job reaching each other) is allowed by :mod:`network_policies`, next to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.cluster_access import ClusterAccess

#: The namespaces the platform creates, by purpose (names get the environment as a prefix).
PURPOSES = ("serving", "training", "tracking", "notebooks")

#: Pod Security Admission labels: enforce, audit and warn on the "restricted" standard.
POD_SECURITY_LABELS = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
} | {
    f"pod-security.kubernetes.io/{mode}-version": "latest" for mode in ("enforce", "audit", "warn")
}

#: The label Kubernetes puts on every namespace with its name (selectable since 1.22).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

_DNS_PORT = 53
_HTTPS_PORT = 443


def namespace_name(environment: str, purpose: str) -> str:
    """A namespace's name: ``mlp-<environment>-<purpose>`` (one cluster may hold several stacks)."""
    return f"mlp-{environment}-{purpose}"


def namespace_selector(name: pulumi.Input[str]) -> k8s.meta.v1.LabelSelectorArgs:
    """Select one namespace by its name label."""
    return k8s.meta.v1.LabelSelectorArgs(match_labels={NAMESPACE_NAME_LABEL: name})


def tcp_ports(*ports: int) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    """NetworkPolicy ports for TCP ``ports``."""
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port) for port in ports]


@dataclass(frozen=True)
class PlatformNamespacesArgs:
    """Inputs of PlatformNamespaces."""

    environment: str
    """Short environment name (namespace prefix)."""
    vpc_cidr: str
    """The VPC's range: its interface endpoints (STS, ECR, CloudWatch Logs) live there."""
    s3_cidrs: pulumi.Input[Sequence[str]]
    """S3's address ranges in the region (the S3 gateway endpoint's prefix list)."""
    purposes: Sequence[str] = PURPOSES
    """Which namespaces to create."""


class PlatformNamespaces(pulumi.ComponentResource):
    """The workload namespaces with restricted Pod Security and default-deny network policies."""

    names: Mapping[str, str]
    """Namespace name by purpose."""
    namespaces: Mapping[str, k8s.core.v1.Namespace]
    """The Namespace resources by purpose (what the workloads in them depend on)."""

    def __init__(
        self,
        name: str,
        args: PlatformNamespacesArgs,
        cluster: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:kubernetes:PlatformNamespaces", name, None, opts)
        unknown = sorted(set(args.purposes) - set(PURPOSES))
        if unknown:
            raise ValueError(f"unknown namespace purposes: {', '.join(unknown)}")
        self.names = {
            purpose: namespace_name(args.environment, purpose) for purpose in args.purposes
        }
        self.namespaces = {}
        for purpose, namespace in self.names.items():
            resource = k8s.core.v1.Namespace(
                namespace,
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=namespace,
                    labels={**POD_SECURITY_LABELS, "ml-platform/purpose": purpose},
                ),
                opts=cluster.options(self),
            )
            self.namespaces[purpose] = resource
            policy_opts = cluster.options(resource)
            self._baseline_policies(namespace, args, policy_opts)
        self.register_outputs({"names": dict(self.names)})

    @staticmethod
    def _baseline_policies(
        namespace: str, args: PlatformNamespacesArgs, opts: pulumi.ResourceOptions
    ) -> None:
        """Deny everything, then allow DNS and HTTPS to the AWS APIs, for every pod."""
        every_pod = k8s.meta.v1.LabelSelectorArgs()
        k8s.networking.v1.NetworkPolicy(
            f"{namespace}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=namespace),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod, policy_types=["Ingress", "Egress"]
            ),
            opts=opts,
        )
        _egress_policy(
            namespace,
            "allow-dns",
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[
                    k8s.networking.v1.NetworkPolicyPeerArgs(
                        namespace_selector=namespace_selector("kube-system"),
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels={"k8s-app": "kube-dns"}
                        ),
                    )
                ],
                ports=[
                    k8s.networking.v1.NetworkPolicyPortArgs(protocol=protocol, port=_DNS_PORT)
                    for protocol in ("UDP", "TCP")
                ],
            ),
            opts,
        )
        _egress_policy(
            namespace,
            "allow-aws-apis",
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=pulumi.Output.from_input(args.s3_cidrs).apply(
                    lambda cidrs: [
                        k8s.networking.v1.NetworkPolicyPeerArgs(
                            ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr)
                        )
                        for cidr in [args.vpc_cidr, *cidrs]
                    ]
                ),
                ports=tcp_ports(_HTTPS_PORT),
            ),
            opts,
        )


def _egress_policy(
    namespace: str,
    policy: str,
    rule: k8s.networking.v1.NetworkPolicyEgressRuleArgs,
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    """The NetworkPolicy ``policy`` of ``namespace``: every pod may send what ``rule`` allows."""
    return k8s.networking.v1.NetworkPolicy(
        f"{namespace}-{policy}",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=policy, namespace=namespace),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Egress"], egress=[rule]
        ),
        opts=opts,
    )
