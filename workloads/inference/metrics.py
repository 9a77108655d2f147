"""Prometheus metrics for the inference server, in the text exposition format (version 0.0.4).

Hand-rolled rather than prometheus_client: the server runs on one event-loop thread, so plain
integers need no locks, an observation is a ``bisect`` and two additions (prometheus_client takes
a lock per observation), and the hot path stays standard library only. The format is small and
stable: https://prometheus.io/docs/instrumenting/exposition_formats/
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
KNOWN_PATHS = ("/invocations", "/ping", "/metrics", "/execution-parameters")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _label_value(value: str) -> str:
    """A label value escaped as the exposition format asks (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Histogram:
    """A cumulative histogram with fixed upper bounds (``le``), plus sum and count."""

    __slots__ = ("bounds", "counts", "description", "name", "total")

    def __init__(self, name: str, description: str, bounds: Sequence[float]) -> None:
        self.name = name
        self.description = description
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last slot is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation (the first bucket whose bound is >= value)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        """How many observations so far."""
        return sum(self.counts)

    def render(self) -> list[str]:
        """The exposition lines of this histogram."""
        lines = [f"# HELP {self.name} {self.description}", f"# TYPE {self.name} histogram"]
        cumulative = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            cumulative += count
            lines.append(f'{self.name}_bucket{{le="{_number(bound)}"}} {cumulative}')
        cumulative += self.counts[-1]
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {cumulative}')
        lines.append(f"{self.name}_sum {_number(self.total)}")
        lines.append(f"{self.name}_count {cumulative}")
        return lines


class ServerMetrics:
    """What the server counts: requests, latencies, batch sizes, model swaps, captured records."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.request_seconds = Histogram(
            "inference_request_duration_seconds",
            "Time from a parsed /invocations request to its response being written.",
            LATENCY_BUCKETS,
        )
        self.predict_seconds = Histogram(
            "inference_predict_duration_seconds",
            "Time spent in one predict call (one batch).",
            LATENCY_BUCKETS,
        )
        self.batch_rows = Histogram(
            "inference_batch_rows", "Rows per predict call (after micro-batching).", BATCH_BUCKETS
        )
        self.batch_requests = Histogram(
            "inference_batch_requests", "Requests merged into one predict call.", BATCH_BUCKETS
        )
        self.model_reloads = 0
        """Models swapped in after the first one (an alias moved and the new version loaded)."""
        self.model_reload_failures = 0
        """Versions an alias moved to that could not be downloaded or loaded."""

    def count_request(self, path: str, status: int) -> None:
        """Count one answered request; unknown paths share one label to bound cardinality."""
        key = (path if path in KNOWN_PATHS else "other", status)
        self.requests[key] = self.requests.get(key, 0) + 1

    def observe_batch(self, requests: int, rows: int, seconds: float) -> None:
        """Record one predict call."""
        self.batch_requests.observe(requests)
        self.batch_rows.observe(rows)
        self.predict_seconds.observe(seconds)

    def render(
        self,
        *,
        model_loaded: bool,
        connections: int,
        in_flight: int = 0,
        model: Mapping[str, str] | None = None,
        capture_enabled: bool = False,
        captured: int = 0,
        capture_failures: int = 0,
    ) -> bytes:
        """The whole exposition text.

        ``in_flight`` counts invocations received and not answered yet; ``model`` holds the
        labels of ``inference_model_info`` (None: no model yet, no sample); ``capture_enabled``
        says whether the data capture writes now (False when off or stopped after an error);
        ``captured`` counts the lines it recorded (written within a second) and
        ``capture_failures`` those a failed write lost.
        """
        lines = [
            "# HELP inference_requests_total Requests answered, by path and status code.",
            "# TYPE inference_requests_total counter",
        ]
        for (path, status), count in sorted(self.requests.items()):
            lines.append(f'inference_requests_total{{path="{path}",status="{status}"}} {count}')
        lines += self.request_seconds.render()
        lines += self.predict_seconds.render()
        lines += self.batch_rows.render()
        lines += self.batch_requests.render()
        lines += [
            "# HELP inference_model_loaded 1 once the model is loaded and /ping answers 200.",
            "# TYPE inference_model_loaded gauge",
            f"inference_model_loaded {int(model_loaded)}",
            "# HELP inference_open_connections Client connections open now.",
            "# TYPE inference_open_connections gauge",
            f"inference_open_connections {connections}",
            "# HELP inference_requests_in_flight Invocations received and not answered yet.",
            "# TYPE inference_requests_in_flight gauge",
            f"inference_requests_in_flight {in_flight}",
            "# HELP inference_model_info The model served now (its labels; value always 1).",
            "# TYPE inference_model_info gauge",
        ]
        if model is not None:
            labels = ",".join(
                f'{key}="{_label_value(value)}"' for key, value in sorted(model.items())
            )
            lines.append(f"inference_model_info{{{labels}}} 1")
        lines += [
            "# HELP inference_model_reloads_total Models swapped in after the first one.",
            "# TYPE inference_model_reloads_total counter",
            f"inference_model_reloads_total {self.model_reloads}",
            "# HELP inference_model_reload_failures_total Model versions that failed to load.",
            "# TYPE inference_model_reload_failures_total counter",
            f"inference_model_reload_failures_total {self.model_reload_failures}",
            "# HELP inference_capture_enabled 1 while data capture writes invocations.",
            "# TYPE inference_capture_enabled gauge",
            f"inference_capture_enabled {int(capture_enabled)}",
            "# HELP inference_capture_records_total Invocations the data capture recorded.",
            "# TYPE inference_capture_records_total counter",
            f"inference_capture_records_total {captured}",
            "# HELP inference_capture_failures_total Captured invocations a failed write lost.",
            "# TYPE inference_capture_failures_total counter",
            f"inference_capture_failures_total {capture_failures}",
        ]
        return ("\n".join(lines) + "\n").encode()
