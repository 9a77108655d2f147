"""Calling the operations code (``workloads.ops``) from a command: session, region, errors.

The ``models`` and ``endpoints`` groups share it. A command resolves its stack options into an
:class:`AwsTarget` (a boto3 session that has a region and credentials, or one line and exit 1),
then runs the operation inside :func:`operation`, which words the operations' errors for the
command line: a missing endpoint or group names the resolved name, the region and the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ml_platform_cli.errors import FAILED, CliError
from ml_platform_cli.stack import StackContext, resolve

#: The width tables get in a pipe: wide enough that no cell is ever folded.
PIPE_WIDTH = 1000

#: What to do about a missing region, for the commands with the stack options.
REGION_ADVICE = "pass --region or --stack, or set AWS_DEFAULT_REGION"


@dataclass(frozen=True)
class AwsTarget:
    """Where a command's AWS calls go: the stack context, its session and the region."""

    context: StackContext
    """Names and settings from the stack file (empty without one)."""
    session: Any
    """A boto3 session with a region and credentials."""
    region: str
    """The region the session calls."""
    stack_label: str | None
    """How messages name the stack (``stack dev``, ``stack file x.yaml``; None without one)."""

    @property
    def where(self) -> str:
        """``in us-east-1 (stack dev)``: where a missing resource was looked for."""
        return f"in {self.region}" + (f" ({self.stack_label})" if self.stack_label else "")


def connect(
    stack: str | None, stack_file: Path | None, region: str | None, profile: str | None
) -> AwsTarget:
    """Resolve the stack options into a session; no region or no credentials: one line, exit 1.

    Both are checked before any call, so an operation never half-runs for want of them.
    """
    context = resolve(stack, stack_file, region, profile)
    session = context.session()
    if not session.region_name:
        raise CliError(f"no AWS region configured; {REGION_ADVICE}", FAILED)
    if session.get_credentials() is None:
        from botocore.exceptions import NoCredentialsError

        from workloads.aws_errors import botocore_problem

        raise CliError(botocore_problem(NoCredentialsError()), FAILED)
    label = None
    if stack_file is not None:
        label = f"stack file {stack_file}"
    elif stack is not None:
        label = f"stack {stack}"
    return AwsTarget(context, session, str(session.region_name), label)


@contextmanager
def operation(target: AwsTarget) -> Iterator[None]:
    """Run an operation, its refusals and failures as one-line ``CliError`` (exit 1).

    A missing endpoint, group or version reads ``<what> not found in <region> (stack <s>)``.
    """
    from workloads.ops.errors import NotFound, OpsError

    try:
        yield
    except NotFound as error:
        hint = f"; {error.hint}" if error.hint else ""
        raise CliError(f"{error.what} {target.where}{hint}", FAILED) from error
    except OpsError as error:
        raise CliError(str(error), FAILED) from error


def key_values(
    option: str, convert: Callable[[str, str], Any] = lambda _, value: value
) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], dict[str, Any]]:
    """A click callback turning ``KEY=VALUE`` words into a dict (``convert`` maps each value).

    A word without ``=``, an empty key or a repeated key is a usage error naming ``option``.
    """

    def parse(_: click.Context, __: click.Parameter, words: tuple[str, ...]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for word in words:
            key, sep, value = word.partition("=")
            if not sep or not key:
                raise click.BadParameter(f"expected KEY=VALUE, got {word!r}", param_hint=option)
            if key in found:
                raise click.BadParameter(f"{key!r} is given twice", param_hint=option)
            try:
                found[key] = convert(key, value)
            except click.BadParameter as error:
                raise click.BadParameter(error.message, param_hint=option) from None
        return found

    return parse


def weight(key: str, value: str) -> float:
    """A variant weight given on the command line: a number (the operations check its range)."""
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"the weight of {key!r} is not a number: {value!r}") from None


def wait_options(function: Any) -> Any:
    """Add ``--wait`` and ``--timeout`` (parameters ``wait`` and ``timeout``)."""
    function = click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=1800.0,
        show_default=True,
        help="seconds to wait with --wait",
    )(function)
    return click.option("--wait", is_flag=True, help="wait until the endpoint is InService again")(
        function
    )


def wait_policy(wait: bool, timeout: float) -> Any:
    """The operations' ``WaitPolicy`` for ``--wait``/``--timeout`` (None without ``--wait``)."""
    from workloads.ops.endpoint import WaitPolicy

    return WaitPolicy(timeout_s=timeout) if wait else None


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` with no cell cut short: in a pipe at full width, on a terminal folded.

    rich assumes 80 columns in a pipe and cuts long cells with an ellipsis; names and URIs cut
    short (or folded over two lines) would be useless to grep or a script.
    """
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    for column in table.columns:
        column.overflow = "fold"
    console.print(table)
