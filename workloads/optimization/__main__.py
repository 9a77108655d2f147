"""``python -m workloads.optimization ...``: the optimization entry point (see ``entrypoint``)."""

from workloads.optimization.entrypoint import command

raise SystemExit(command())
