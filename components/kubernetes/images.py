"""Where the Kubernetes layer's images come from: ECR repositories of the stack's account.

Our images (inference server, training, MLflow, notebooks) live in this account's ECR, in the
stack's region; a spec names an image by repository and tag (``ImageConfig``), and the pods pull
``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``.
"""

from __future__ import annotations

import pulumi

from components.shared.images import ImageConfig

#: The MLflow image when the kubernetes section names none: ours, at the MLflow version it pins.
DEFAULT_MLFLOW_IMAGE = ImageConfig(repository="ml-platform/mlflow", tag="3.17.2")


def repository_url(
    account_id: pulumi.Input[str], region: str, repository: str
) -> pulumi.Output[str]:
    """The URL of an ECR repository in this account.

    ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>``; images of ours are ``<url>:<tag>``.
    The account id is an output, so the URL is one too.
    """
    return pulumi.Output.concat(account_id, ".dkr.ecr.", region, ".amazonaws.com/", repository)
