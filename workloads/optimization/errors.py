"""The optimization code's one error type for bad input."""

from __future__ import annotations


class ProblemError(ValueError):
    """A problem file or setting that cannot be used; the message names the file or field.

    For example ``ft06.txt, line 3: expected 12 numbers (6 machine/duration pairs), got 11`` or
    ``vehicles[1].capacity: must be a positive integer, got -5``.
    """
