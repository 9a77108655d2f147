"""``ml-platform optimize solve|solve-batch``: the optimization entry point, run as it is.

Every argument (``--help`` included) goes to ``workloads.optimization.entrypoint`` unchanged, as
``ml-platform train`` does for the trainer, so the help shows the solver's real options and the
exit status is the entry point's: 0 solved (or stopped by SIGTERM after a checkpoint), 1 no
solution or infeasible, 2 bad input. ``ml-platform-optimize`` is an alias of the same entry point.
"""

from __future__ import annotations

import click

from ml_platform_cli.runners import PASS_THROUGH, run_entry_point

#: The entry point (it reads ``sys.argv`` and keeps SIGTERM handling for the whole process).
OPTIMIZE_ENTRY_POINT = "workloads.optimization.entrypoint:command"
#: The program name the entry point shows in its usage and error lines.
PROGRAM = "ml-platform optimize"


@click.group("optimize")
def optimize() -> None:
    r"""Solve vehicle routing and job-shop scheduling problems with OR-Tools.

    Spot-safe (checkpoints, SIGTERM exits 0 after the last one), within a total, a per-round and
    a no-improvement time limit; writes solution.json and report.html and prints the metrics as
    name=value lines. Options: ml-platform optimize solve --help.

    \b
    Examples:
      ml-platform optimize solve --kind jobshop --problem ft06.txt --total-seconds 30 \
          --out build/ft06
      ml-platform optimize solve-batch --kind routing --problems 'cvrp/*.vrp' \
          --total-seconds 300 --parallel 2 --out build/batch
    """


@optimize.command(
    "solve", context_settings=PASS_THROUGH, add_help_option=False, short_help="Solve one problem."
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def solve(args: tuple[str, ...]) -> None:
    r"""Solve one problem (all options: ml-platform optimize solve --help).

    \b
    Examples:
      ml-platform optimize solve --kind jobshop --problem ft06.txt --out build/ft06
      ml-platform optimize solve --kind routing --problem A-n32-k5.vrp --total-seconds 60 \
          --checkpoint-dir build/ckpt --out build/a-n32
    """
    run_entry_point(OPTIMIZE_ENTRY_POINT, ["solve", *args], program=PROGRAM)


@optimize.command(
    "solve-batch",
    context_settings=PASS_THROUGH,
    add_help_option=False,
    short_help="Solve many problems in parallel within one budget.",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def solve_batch(args: tuple[str, ...]) -> None:
    r"""Solve many problems in parallel within one budget (options: ... solve-batch --help).

    \b
    Examples:
      ml-platform optimize solve-batch --kind jobshop --problems instances/ \
          --total-seconds 120 --parallel 2 --out build/batch --json
    """
    run_entry_point(OPTIMIZE_ENTRY_POINT, ["solve-batch", *args], program=PROGRAM)


def register(cli: click.Group) -> None:
    """Add the ``optimize`` group to ``cli``."""
    cli.add_command(optimize)
