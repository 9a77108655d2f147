"""The one error every operation raises, and the translation of AWS errors into it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError


class OpsError(Exception):
    """An operation refused or failed; the message names the resource and the problem.

    The command line prints the message (no traceback) and exits with status 1.
    """


def refuse(subject: str, problems: list[str]) -> None:
    """Raise one ``OpsError`` listing every problem, if there are any (nothing was changed)."""
    if problems:
        raise OpsError(f"{subject}: {'; '.join(problems)}")


def error_code(error: ClientError) -> str:
    """The AWS error code of a ``ClientError`` (e.g. ``ValidationException``)."""
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def error_message(error: ClientError) -> str:
    """The AWS error message of a ``ClientError``."""
    return str(error.response.get("Error", {}).get("Message", error))


def failed(action: str, error: ClientError) -> OpsError:
    """An ``OpsError`` saying that ``action`` failed, with the AWS error code and message."""
    return OpsError(f"{action} failed: {error_code(error)}: {error_message(error)}")


def botocore_problem(error: BotoCoreError) -> str:
    """What a client-side boto error means for the user, and what to do about it."""
    if isinstance(error, NoRegionError):
        return "no AWS region configured; set AWS_REGION or pass --region"
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials found; pass --profile (or set AWS_PROFILE), or set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    return str(error)


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn boto errors raised inside the block into an ``OpsError`` that starts with ``action``."""
    try:
        yield
    except ClientError as error:
        raise failed(action, error) from error
    except BotoCoreError as error:
        raise OpsError(f"{action} failed: {botocore_problem(error)}") from error
