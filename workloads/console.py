"""The ``ml-platform-*`` console scripts: each names the extra it needs when a library is missing.

``pip install -e .`` (and ``pulumi install``, which installs only the ``infra`` extra) puts every
console script on the PATH, whatever extras were installed. Run without its libraries, a script
would end in an import traceback (``No module named 'numpy'``); these entry points say instead,
in one line, which package is missing and how to install it, and exit 1.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

#: Each script's real entry point (``module:function``) and the extras it needs.
SCRIPTS: dict[str, tuple[str, str]] = {
    "ml-platform-serve": ("workloads.inference.server:main", "workloads"),
    "ml-platform-train": ("workloads.training.entrypoint:command", "workloads,training"),
    "ml-platform-features": ("workloads.features.cli:main", "workloads,features"),
    "ml-platform-monitor": ("workloads.monitoring.cli:main", "workloads,monitoring"),
    "ml-platform-lifecycle": ("workloads.lifecycle.cli:main", "workloads,training"),
    "ml-platform-optimize": ("workloads.optimization.entrypoint:command", "optimization"),
}


def entry_point(script: str) -> Callable[[], int]:
    """``script``'s real entry point, imported; a missing library is a one-line exit 1."""
    target, extras = SCRIPTS[script]
    module_name, function = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if not missing or missing == "workloads":
            raise  # our own code is broken: not something an install fixes
        print(
            f"{script}: the Python package '{missing}' is not installed; install what the "
            f"command needs with `make install` (or `pip install -e '.[{extras}]'`)",
            file=sys.stderr,
        )
        sys.exit(1)
    entry: Callable[[], int] = getattr(module, function)
    return entry


def serve() -> int:
    """``ml-platform-serve``."""
    return entry_point("ml-platform-serve")()


def train() -> int:
    """``ml-platform-train``."""
    return entry_point("ml-platform-train")()


def features() -> int:
    """``ml-platform-features``."""
    return entry_point("ml-platform-features")()


def monitor() -> int:
    """``ml-platform-monitor``."""
    return entry_point("ml-platform-monitor")()


def lifecycle() -> int:
    """``ml-platform-lifecycle``."""
    return entry_point("ml-platform-lifecycle")()


def optimize() -> int:
    """``ml-platform-optimize``."""
    return entry_point("ml-platform-optimize")()
