"""Calling the operations code (``workloads.ops``) from a command: session, region, errors.

The ``models``, ``endpoints``, ``jobs`` and ``pipelines`` groups share it. A command connects its
stack options (:meth:`StackOptions.connect`: a boto3 session that has a region and credentials,
or one line and exit 1), then runs the operation inside :func:`operation`, which words the
operations' errors for the command line: a missing endpoint or group names the resolved name,
the region and the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ml_platform_cli import output
from ml_platform_cli.errors import FAILED, CliError
from ml_platform_cli.stack import AwsTarget, StackOptions

#: The width tables get in a pipe: wide enough that no cell is ever folded.
PIPE_WIDTH = 1000


@contextmanager
def ops_errors() -> Iterator[None]:
    """Run an operation, its refusals and failures (``OpsError``) as one line, exit 1."""
    from workloads.ops.errors import OpsError

    try:
        yield
    except OpsError as error:
        raise CliError(str(error), FAILED) from error


@contextmanager
def operation(target: AwsTarget) -> Iterator[None]:
    """:func:`ops_errors` for an operation on AWS: a missing resource also says where.

    A missing endpoint, group or version reads ``<what> not found in <region> (stack <s>)``.
    """
    from workloads.ops.errors import NotFound

    with ops_errors():
        try:
            yield
        except NotFound as error:
            hint = f"; {error.hint}" if error.hint else ""
            raise CliError(f"{error.what} {target.where}{hint}", FAILED) from error


def call_operation(
    where: StackOptions, name: str, function: Callable[..., Any], *args: Any, **kwargs: Any
) -> tuple[str, Any]:
    """Connect, resolve ``name`` in the stack, run ``function(resolved, *args, session=...)``.

    The resolved name and the operation's result; its errors as :func:`operation` words them.
    """
    target = where.connect()
    resolved = target.context.resource_name(name)
    with operation(target):
        return resolved, function(resolved, *args, session=target.session, **kwargs)


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


def emit_table(
    data: Any,
    as_json: bool,
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Print ``data`` as JSON, or ``rows`` as a table (see :func:`print_table`) for people."""
    output.emit(
        data, as_json, lambda console: print_table(console, output.table(title, columns, rows))
    )
