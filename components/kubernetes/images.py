"""Where the Kubernetes layer's images come from: ECR repositories of the stack's account.

Our images (inference server, training, MLflow, notebooks) live in this account's ECR, in the
stack's region; a spec names an image by repository and tag (``ImageConfig``), and the pods pull
``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``.
"""

from __future__ import annotations

from components.shared.spec_rules import ImageConfig

#: The MLflow image when the kubernetes section names none: ours, at the MLflow version it pins.
DEFAULT_MLFLOW_IMAGE = ImageConfig(repository="ml-platform/mlflow", tag="3.17.2")
