"""The traffic each workload needs on top of its namespace's default deny, one policy per need.

Every function here creates one ``NetworkPolicy`` that selects some pods of one namespace and
allows one kind of traffic, so a reviewer can read what may talk to what from the policies'
names alone (``allow-knative-to-predictors``, ``allow-training-to-mlflow`` ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.namespaces import namespace_selector, tcp_ports

Peer = k8s.networking.v1.NetworkPolicyPeerArgs


def pods_in(namespace: pulumi.Input[str], labels: Mapping[str, str] | None = None) -> Peer:
    """Peer: the pods of ``namespace`` with ``labels`` (all of its pods without)."""
    return Peer(
        namespace_selector=namespace_selector(namespace),
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels) if labels else None),
    )


def cidr(block: str) -> Peer:
    """Peer: an address range (outside the cluster's pods)."""
    return Peer(ip_block=k8s.networking.v1.IPBlockArgs(cidr=block))


def allow(
    name: str,
    *,
    direction: Literal["ingress", "egress"],
    namespace: pulumi.Input[str],
    pod_labels: Mapping[str, str] | None,
    peers: Sequence[Peer],
    ports: Sequence[int],
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    """Let the selected pods (all pods without labels) talk to ``peers`` on TCP ``ports``.

    ``direction`` says who starts: ``"ingress"``, the peers reach the pods; ``"egress"``, the
    pods reach the peers. Empty ``ports`` allow any port.
    """
    rule_ports = tcp_ports(*ports) or None
    if direction == "ingress":
        ingress = k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=list(peers), ports=rule_ports
        )
        return _policy(name, namespace, pod_labels, ingress=[ingress], opts=opts)
    egress = k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=list(peers), ports=rule_ports)
    return _policy(name, namespace, pod_labels, egress=[egress], opts=opts)


def allow_within_namespace(
    name: str, *, namespace: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> k8s.networking.v1.NetworkPolicy:
    """Let the namespace's pods reach each other on any port.

    A training job's workers need this: torchrun's rendezvous and NCCL pick ports at run time.
    """
    same = [pods_in(namespace)]
    return _policy(
        name,
        namespace,
        None,
        ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=same)],
        egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=same)],
        opts=opts,
    )


def _policy(
    name: str,
    namespace: pulumi.Input[str],
    pod_labels: Mapping[str, str] | None,
    *,
    ingress: list[k8s.networking.v1.NetworkPolicyIngressRuleArgs] | None = None,
    egress: list[k8s.networking.v1.NetworkPolicyEgressRuleArgs] | None = None,
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    types = [kind for kind, rules in (("Ingress", ingress), ("Egress", egress)) if rules]
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name.rsplit("/", 1)[-1], namespace=namespace),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels=dict(pod_labels) if pod_labels else None
            ),
            policy_types=types,
            ingress=ingress,
            egress=egress,
        ),
        opts=opts,
    )
