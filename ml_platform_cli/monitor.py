"""``ml-platform monitor ...``: the drift monitor's commands (``workloads.monitoring.cli``).

Each subcommand passes its arguments (``--help`` included) to the monitor's own command line and
exits with its status: ``check --fail-on-drift`` exits 3 when it finds drift, which is
``ml-platform``'s FOUND. ``ml-platform-monitor`` stays as an alias.
"""

from __future__ import annotations

import click

from ml_platform_cli.runners import PASS_THROUGH, run_entry_point

#: The monitor's entry point; it takes the subcommand and its arguments.
MONITOR_ENTRY_POINT = "workloads.monitoring.cli:main"

#: Each subcommand and its one-line summary (the monitor's own --help has the options).
COMMANDS = {
    "baseline": "Profile a training table into a baseline folder.",
    "check": "Compare a window of captured traffic with the baseline (exit 3 on drift with "
    "--fail-on-drift).",
    "report": "Render report.html again from a check's summary.json.",
    "publish": "Send a check's metrics to CloudWatch.",
    "select-window": "Stage a window's capture files from S3.",
}


@click.group("monitor")
def monitor() -> None:
    r"""Drift monitoring: baselines, checks, reports (options: ml-platform monitor CMD --help).

    \b
    Examples:
      ml-platform monitor baseline --data workloads/samples/data/churn-train.csv \
          --model build/models/churn --exclude churned --out build/baselines/churn
      ml-platform monitor check --baseline build/baselines/churn --capture build/capture/churn \
          --out build/monitor/churn --fail-on-drift
      ml-platform monitor report --results build/monitor/churn
    """


def _pass_through(name: str, summary: str) -> click.Command:
    """A ``monitor`` subcommand handing ``name`` and its arguments to the monitor."""

    @click.command(name, help=summary, context_settings=PASS_THROUGH, add_help_option=False)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        run_entry_point(MONITOR_ENTRY_POINT, (name, *args), program="ml-platform monitor")

    return command


for _name, _summary in COMMANDS.items():
    monitor.add_command(_pass_through(_name, _summary))


def register(cli: click.Group) -> None:
    """Add the ``monitor`` group to ``cli``."""
    cli.add_command(monitor)
