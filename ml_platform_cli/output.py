"""Printing results: rich tables on a terminal, plain text in a pipe, JSON with ``--json``.

rich drops colours and styles by itself when stdout is not a terminal and honours ``NO_COLOR``;
``--json`` output is always plain JSON on stdout (errors go to stderr), so it can be piped to jq.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def stdout() -> Console:
    """A console on stdout (created per call so tests that capture stdout see the output)."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def stderr() -> Console:
    """A console on stderr, for progress and notes that must not mix into ``--json`` output."""
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (dates and paths as strings)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, sort_keys=False) + "\n")


def emit(data: Any, as_json: bool, render: Callable[[Console], None]) -> None:
    """Print a read command's result: ``data`` as JSON, or ``render`` it for people."""
    if as_json:
        print_json(data)
    else:
        render(stdout())


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A plain rich table of ``rows`` (each cell shown with ``str``; None as ``-``).

    The title and cells are escaped: text such as ``[Errno 2]`` in a failure reason is shown as
    it is, never read as rich markup.
    """
    result = Table(
        title=None if title is None else escape(title),
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    for column in columns:
        result.add_column(column)
    for row in rows:
        result.add_row(*("-" if cell is None else escape(str(cell)) for cell in row))
    return result
