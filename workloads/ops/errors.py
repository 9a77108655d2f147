"""The one error every operation raises, and the translation of AWS errors into it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from workloads.aws_errors import botocore_problem, error_code, error_message

__all__ = [
    "NotFound",
    "OpsError",
    "aws_errors",
    "botocore_problem",
    "error_code",
    "error_message",
    "failed",
    "refuse",
]


class OpsError(Exception):
    """An operation refused or failed; the message names the resource and the problem.

    The command line prints the message (no traceback) and exits with status 1.
    """


class NotFound(OpsError):
    """The resource an operation works on does not exist (the message says which).

    ``what`` names it without the sentence around it (``endpoint 'mlp-dev-churn' not found``),
    for a caller that adds where it looked; ``hint`` says what to do about it ('' for nothing).
    """

    def __init__(self, message: str, what: str, hint: str = "") -> None:
        super().__init__(message)
        self.what = what
        self.hint = hint


def refuse(subject: str, problems: list[str]) -> None:
    """Raise one ``OpsError`` listing every problem, if there are any (nothing was changed)."""
    if problems:
        raise OpsError(f"{subject}: {'; '.join(problems)}")


def failed(action: str, error: ClientError) -> OpsError:
    """An ``OpsError`` saying that ``action`` failed, with the AWS error code and message."""
    return OpsError(f"{action} failed: {error_code(error)}: {error_message(error)}")


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn boto errors raised inside the block into an ``OpsError`` that starts with ``action``."""
    try:
        yield
    except ClientError as error:
        raise failed(action, error) from error
    except BotoCoreError as error:
        raise OpsError(f"{action} failed: {botocore_problem(error)}") from error
