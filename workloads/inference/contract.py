"""The inference server's shutdown bounds, shared with the components that deploy it.

Standard library only, nothing at import: ``components/`` reads it and never imports numpy.
"""

from __future__ import annotations

DRAIN_SECONDS_ENV = "ML_PLATFORM_DRAIN_SECONDS"
"""Overrides ``DEFAULT_DRAIN_SECONDS`` (the ``--drain-seconds`` flag overrides both)."""

DEFAULT_DRAIN_SECONDS = 10.0
"""After SIGTERM, the longest the server waits for requests in flight and half-sent ones. At that
bound each connection still owed an answer gets a 503 ``server is shutting down`` with
``Connection: close``, every connection is closed and the process exits 0. Keep it well under the
pod's termination grace period (``components.kubernetes.inference_service``)."""

DEFAULT_DRAIN_IDLE_SECONDS = 1.0
"""After SIGTERM, how long idle keep-alive connections stay open: a request that arrives on one
in that time is answered (with ``Connection: close``) rather than met by a closed socket."""
