"""Read a Dockerfile as text (no Docker engine here): its instructions, in order."""

from __future__ import annotations

import re
from pathlib import Path

#: The project's Dockerfiles: ``docker/<image>.Dockerfile``.
DOCKER = Path(__file__).resolve().parent.parent / "docker"


def instructions(image: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of ``docker/<image>.Dockerfile``.

    Comments are dropped, continuation lines joined and whitespace in arguments collapsed.
    """
    lines = [
        line
        for line in (DOCKER / f"{image}.Dockerfile").read_text().splitlines()
        if not line.strip().startswith("#")
    ]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in text.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            found.append((keyword.upper(), " ".join(arguments.split())))
    return found
