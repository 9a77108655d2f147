"""The stack's Kubernetes provider: one constructor for a created EKS cluster and an existing one.

A provider either applies to a cluster (a kubeconfig: the contents built from an EKS cluster's
outputs, or the path of an existing cluster's file and a context) or renders every manifest to a
folder for review without any cluster. Rendering needs no kubeconfig: pulumi-kubernetes then never
contacts an API server.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

#: The client-authentication API ``aws eks get-token`` answers with.
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def eks_kubeconfig(
    cluster_name: str, endpoint: str, certificate_authority: str, region: str
) -> str:
    """A kubeconfig (JSON) for an EKS cluster that gets its token from ``aws eks get-token``.

    No token is stored: each connection runs the AWS CLI with the caller's own credentials, so
    the file holds nothing secret and access follows the caller's EKS access entries.
    """
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {
                        "server": endpoint,
                        "certificate-authority-data": certificate_authority,
                    },
                }
            ],
            "contexts": [
                {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
            ],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": EXEC_API_VERSION,
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster_name,
                                "--region",
                                region,
                                "--output",
                                "json",
                            ],
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


def kubernetes_provider(
    name: str,
    kubeconfig: pulumi.Input[str] | None,
    render_to: str | None,
    opts: pulumi.ResourceOptions | None = None,
    *,
    context: str | None = None,
) -> k8s.Provider:
    """The Kubernetes provider of a stack: applies through ``kubeconfig``, or renders.

    ``kubeconfig`` is a kubeconfig's contents or a file path (None: ``$KUBECONFIG``);
    ``context`` picks one of its contexts (None: the current one). With ``render_to`` set the
    provider writes YAML to that folder instead and ignores both.
    """
    if render_to:
        return k8s.Provider(name, render_yaml_to_directory=render_to, opts=opts)
    return k8s.Provider(
        name,
        kubeconfig=kubeconfig,
        context=context,
        # Server-side apply: field ownership per manager, so an operator's own edits to the
        # objects it manages do not fight Pulumi's.
        enable_server_side_apply=True,
        opts=opts,
    )
