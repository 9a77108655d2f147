"""What an AWS error means for the person at the command line, in one line (botocore only).

Shared by the operations commands (``workloads.ops``), the monitor and the feature-store
commands, so a missing region or missing credentials reads the same everywhere. It imports
nothing but botocore's exceptions, so the monitor's processing job can use it without the
operations code.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

#: What to do about a missing region, for a command with a ``--region`` option.
REGION_ADVICE = "set AWS_DEFAULT_REGION or pass --region"


def error_code(error: ClientError) -> str:
    """The AWS error code of a ``ClientError`` (e.g. ``ValidationException``)."""
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def error_message(error: ClientError) -> str:
    """The AWS error message of a ``ClientError``."""
    return str(error.response.get("Error", {}).get("Message", error))


def botocore_problem(
    error: BotoCoreError, *, region_advice: str = REGION_ADVICE, profile_option: bool = True
) -> str:
    """What a client-side boto error means for the user, and what to do about it.

    ``region_advice`` says where a region can come from; ``profile_option`` is False for a
    command without ``--profile`` (the advice then names only ``AWS_PROFILE``).
    """
    if isinstance(error, NoRegionError):
        return f"no AWS region configured; {region_advice}"
    if isinstance(error, NoCredentialsError):
        profile = "pass --profile (or set AWS_PROFILE)" if profile_option else "set AWS_PROFILE"
        return (
            f"no AWS credentials found; {profile}, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY"
        )
    return str(error)


def aws_problem(
    error: BaseException,
    *,
    region_advice: str = REGION_ADVICE,
    profile_option: bool = True,
    name_operation: bool = True,
) -> str | None:
    """One line for a boto error (``None`` for any other exception).

    A ``ClientError`` reads ``<Operation> failed: <Code>: <message>`` (``<Code>: <message>``
    when ``name_operation`` is False, for a caller whose message names the call already); a
    client-side error (no region, no credentials) as :func:`botocore_problem` words it, and an
    endpoint that cannot be reached with what to check.
    """
    if isinstance(error, ClientError):
        message = " ".join(error_message(error).split())
        problem = f"{error_code(error)}: {message}"
        return f"{error.operation_name} failed: {problem}" if name_operation else problem
    if isinstance(error, EndpointConnectionError):
        return f"{error}; check the network connection and the region"
    if isinstance(error, BotoCoreError):
        return botocore_problem(error, region_advice=region_advice, profile_option=profile_option)
    return None
