"""Deployment operations on SageMaker: canary traffic, checks, registry, batch transform, packaging.

The registry operations approve (promote, pinning the version in a stack file) and reject
registered model versions.

Plain boto3, no pulumi. Every operation takes an optional ``client`` (a boto3 SageMaker client) or
``session`` (a ``boto3.Session``); the client is built only when an operation runs. The command
line is ``python -m workloads.ops --help``.
"""

from workloads.ops.batch_transform import start_batch_transform
from workloads.ops.endpoint import WaitPolicy
from workloads.ops.errors import OpsError
from workloads.ops.package import PackagedModel, package_model, upload_package
from workloads.ops.promotion import Promotion, VariantTarget, promote_version
from workloads.ops.registry import (
    VersionDecision,
    approve_version,
    register_model_version,
    reject_version,
)
from workloads.ops.traffic import TrafficShift, promote_canary, rollback_canary, shift_traffic
from workloads.ops.verify import VerificationResult, verify_deployment

__all__ = [
    "OpsError",
    "PackagedModel",
    "Promotion",
    "TrafficShift",
    "VariantTarget",
    "VerificationResult",
    "VersionDecision",
    "WaitPolicy",
    "approve_version",
    "package_model",
    "promote_canary",
    "promote_version",
    "register_model_version",
    "reject_version",
    "rollback_canary",
    "shift_traffic",
    "start_batch_transform",
    "upload_package",
    "verify_deployment",
]
