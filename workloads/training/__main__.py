"""``python -m workloads.training ...``: the training entrypoint (see ``entrypoint``)."""

from workloads.training.entrypoint import command

raise SystemExit(command())
