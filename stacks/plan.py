"""``python -m stacks.plan``: the offline plan's former module path, kept as an alias.

The command lives in :mod:`stacks.offline.plan` (what ``make plan`` runs); this alias remains
because the stack-file tests still run the plan by its old module path.
"""

from __future__ import annotations

import sys

from stacks.offline.plan import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
