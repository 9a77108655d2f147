"""Free ports for the ``ml-platform local`` tests."""

from __future__ import annotations

import random

from workloads.local_platform.specs import port_available


def free_port_base() -> int:
    """A port N with N, N+1 and N+2 free on 127.0.0.1 (the platform's three ports)."""
    chooser = random.Random()
    for _ in range(200):
        base = chooser.randrange(20000, 40000)
        if all(port_available(base + offset) for offset in range(3)):
            return base
    raise AssertionError("no three free ports in a row")
