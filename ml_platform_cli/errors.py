"""The CLI's exit codes and its one error type (docs/cli.md lists the codes)."""

from __future__ import annotations

#: The command did what it was asked (a read found what it read).
OK = 0
#: The operation failed or refused: an AWS error, a failed verification, a server that could not
#: start, a missing file the command was pointed at.
FAILED = 1
#: Bad usage: an unknown option, a missing argument, a value of the wrong form, an invalid stack
#: file, a name that does not resolve in the stack.
USAGE = 2
#: A check found what it looks for: drift or violations (``monitor check --fail-on-drift``),
#: differences (``plan --diff --exit-code``).
FOUND = 3
#: Interrupted (Ctrl-C), as shells report SIGINT.
INTERRUPTED = 130


class CliError(Exception):
    """An error the user can act on: printed as ``error: <message>``, exit ``exit_code``."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
