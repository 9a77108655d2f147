"""``python fake_launcher.py solve|solve-batch ...``: the entry point with the fake kind installed.

The subprocess tests (SIGTERM, batch) run this instead of ``python -m workloads.optimization`` so
the "countdown" kind of :mod:`fake_problem` exists in the child and in its batch children.
"""

import sys

from tests.workloads.optimization import fake_problem
from workloads.optimization import batch
from workloads.optimization.entrypoint import command

fake_problem.install()
batch.SOLVE_COMMAND = (sys.executable, __file__, "solve")

if __name__ == "__main__":
    raise SystemExit(command())
