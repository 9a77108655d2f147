"""Where the SageMaker client comes from: passed in, or built from a session when first needed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workloads.ops.errors import aws_errors

if TYPE_CHECKING:
    import boto3

# boto3 generates client classes at run time; botocore's BaseClient is the honest static type but
# has none of the operation methods, so operations take the client as ``Any``.
SageMakerClient = Any


def sagemaker_client(
    client: SageMakerClient | None = None, session: boto3.Session | None = None
) -> SageMakerClient:
    """The given client, or a new SageMaker client from ``session`` (default: a fresh session).

    Nothing is created at import time; passing both a client and a session is refused.
    """
    if client is not None and session is not None:
        raise ValueError("pass either client or session, not both")
    return service_client("sagemaker", "SageMaker", client, session)


def service_client(service: str, label: str, client: Any, session: boto3.Session | None) -> Any:
    """``client`` when given, else a new ``service`` client from ``session`` (default: fresh).

    Failing to create it (no region, a broken profile) is one ``OpsError`` naming ``label``.
    """
    if client is not None:
        return client
    with aws_errors(f"Creating the {label} client"):
        if session is None:
            import boto3  # deferred: importing boto3 is not free and not needed to build args

            session = boto3.Session()
        return session.client(service)
