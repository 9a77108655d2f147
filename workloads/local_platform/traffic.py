"""Sample requests for the local inference server: rows of the churn sample, optionally shifted.

One row per request, as CSV with a header naming the columns (so the server maps them to the
model's features whatever their order), over one keep-alive connection.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Sequence
from dataclasses import dataclass

from workloads.samples import churn

TIMEOUT_SECONDS = 10.0
"""The longest one request may take."""
CAPTURE_SETTLE_SECONDS = 1.5
"""How long the last answers take to be on disk: the server writes captured lines in batches
and at least once a second (``workloads.inference.data_capture``), plus a margin."""


@dataclass(frozen=True)
class TrafficResult:
    """How the requests went."""

    sent: int
    answered: int
    """Requests answered with 200."""
    errors: dict[str, int]
    """Other outcomes (``HTTP 400``, ``connection refused``...) and how often."""

    def to_dict(self) -> dict[str, object]:
        """As JSON-ready data."""
        return {"sent": self.sent, "answered": self.answered, "errors": self.errors}


def request_bodies(
    count: int, seed: int, *, drift: bool, features: Sequence[str] = churn.FEATURES
) -> list[bytes]:
    """``count`` CSV bodies (header + one row) of the sample's ``features``."""
    header = ",".join(features)
    return [
        f"{header}\n{','.join(str(row[name]) for name in features)}\n".encode()
        for row in churn.rows(count, seed, drift=drift)
    ]


def send(host: str, port: int, bodies: Sequence[bytes]) -> TrafficResult:
    """POST each body to ``/invocations``; a broken connection is reopened once per request.

    Returns once the answered requests' capture is on disk (:data:`CAPTURE_SETTLE_SECONDS`).
    """
    answered, errors = 0, {}
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
    try:
        for body in bodies:
            outcome = _post(connection, body)
            if outcome is None:
                connection.close()
                outcome = _post(connection, body)  # http.client reconnects on its own
            if outcome == "200":
                answered += 1
            else:
                key = outcome or "no answer"
                errors[key] = errors.get(key, 0) + 1
    finally:
        connection.close()
    if answered:
        # So that a drift check right after this one reads every request it sent.
        time.sleep(CAPTURE_SETTLE_SECONDS)
    return TrafficResult(len(bodies), answered, errors)


def _post(connection: http.client.HTTPConnection, body: bytes) -> str | None:
    try:
        connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        response.read()
    except ConnectionRefusedError:
        return "connection refused"
    except (OSError, http.client.HTTPException):
        return None
    return "200" if response.status == 200 else f"HTTP {response.status}"
