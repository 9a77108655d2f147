"""The status page: one HTML page about the local platform, and its Prometheus ``/metrics``.

Served by the supervisor on ``--port-base`` (a :class:`http.server.ThreadingHTTPServer` on a
thread, 127.0.0.1 only):

- ``GET /``: what runs where, links to the MLflow UI, the latest drift report, the endpoint's
  ``/metrics``, and the most recent captured requests;
- ``GET /metrics``: per process ``up`` and restarts, the champion version, the last drift check's
  time, whether it found drift and each feature's PSI (text format 0.0.4);
- ``GET /status.json``: the state the supervisor last wrote;
- ``GET /drift/report.html``: the latest drift report.

Everything is rendered from the state dictionary (:mod:`workloads.local_platform.state`) and
the files in the state folder, so the page never holds a lock the supervisor needs.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from workloads.local_platform.layout import HOST, Layout

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RECENT_REQUESTS = 20
"""How many captured requests the page lists."""
_PREFIX = "ml_platform_local"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(state: dict[str, Any]) -> str:
    """The platform's metrics in Prometheus' text format, from the supervisor's state."""
    lines = [
        f"# HELP {_PREFIX}_process_up Whether the process answers its health check (1) or not.",
        f"# TYPE {_PREFIX}_process_up gauge",
    ]
    processes = state.get("processes", [])
    for process in processes:
        up = 1 if process.get("health") == "healthy" else 0
        lines.append(f'{_PREFIX}_process_up{{process="{_label(process["name"])}"}} {up}')
    lines += [
        f"# HELP {_PREFIX}_process_restarts_total Restarts after the process exited on its own.",
        f"# TYPE {_PREFIX}_process_restarts_total counter",
    ]
    for process in processes:
        restarts = int(process.get("restarts", 0))
        lines.append(
            f'{_PREFIX}_process_restarts_total{{process="{_label(process["name"])}"}} {restarts}'
        )
    champion = state.get("champion_version")
    if champion is not None:
        lines += [
            f"# HELP {_PREFIX}_champion_version The registry version the champion alias names.",
            f"# TYPE {_PREFIX}_champion_version gauge",
            f'{_PREFIX}_champion_version{{model="{_label(state.get("model", ""))}"}} {champion}',
        ]
    drift = state.get("drift")
    if drift:
        detected = 1 if drift.get("drift_detected") else 0
        lines += [
            f"# HELP {_PREFIX}_drift_last_check_timestamp_seconds When the last drift check ran.",
            f"# TYPE {_PREFIX}_drift_last_check_timestamp_seconds gauge",
            f"{_PREFIX}_drift_last_check_timestamp_seconds {float(drift['checked_at']):.3f}",
            f"# HELP {_PREFIX}_drift_detected Whether the last drift check found drift (1).",
            f"# TYPE {_PREFIX}_drift_detected gauge",
            f"{_PREFIX}_drift_detected {detected}",
            f"# HELP {_PREFIX}_drift_records Captured rows the last drift check read.",
            f"# TYPE {_PREFIX}_drift_records gauge",
            f"{_PREFIX}_drift_records {int(drift.get('records', 0))}",
            f"# HELP {_PREFIX}_feature_psi PSI of each feature in the last drift check.",
            f"# TYPE {_PREFIX}_feature_psi gauge",
        ]
        for feature, psi in sorted(drift.get("psi", {}).items()):
            lines.append(f'{_PREFIX}_feature_psi{{feature="{_label(feature)}"}} {float(psi):.6g}')
    return "\n".join(lines) + "\n"


def recent_requests(capture: Path, limit: int = RECENT_REQUESTS) -> list[dict[str, str]]:
    """The newest ``limit`` captured requests (time, input, output), newest first."""
    if not capture.is_dir():
        return []
    files = sorted(capture.rglob("*.jsonl"), key=lambda path: path.as_posix(), reverse=True)
    found: list[dict[str, str]] = []
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines):
            try:
                record = json.loads(line)
                data = record["captureData"]
                found.append(
                    {
                        "time": str(record["eventMetadata"]["inferenceTime"]),
                        "input": str(data["endpointInput"]["data"]).strip(),
                        "output": str(data["endpointOutput"]["data"]).strip(),
                    }
                )
            except (ValueError, KeyError, TypeError):
                continue
            if len(found) >= limit:
                return found
    return found


def render_page(state: dict[str, Any], layout: Layout) -> str:
    """The status page's HTML (self-contained, no scripts)."""
    urls = state.get("urls", {})
    esc = html.escape
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(str(cell))}</td>"
            for cell in (
                process.get("name"),
                process.get("pid") or "-",
                process.get("port"),
                process.get("health"),
                process.get("restarts", 0),
            )
        )
        + f'<td><a href="{esc(process.get("url", ""))}">{esc(process.get("url", ""))}</a></td>'
        + "</tr>"
        for process in state.get("processes", [])
    )
    drift = state.get("drift")
    if drift:
        drifted = ", ".join(drift.get("drifted", [])) or "none"
        psi = ", ".join(f"{name} {value:.3f}" for name, value in sorted(drift["psi"].items()))
        drift_text = (
            f"<p>Last check: {esc(drift.get('checked_at_iso', ''))}: "
            f"<strong>{esc(drift['status'])}</strong> ({esc(drift['message'])}).<br>"
            f"Drifted features: {esc(drifted)}. PSI: {esc(psi or '-')}.</p>"
            '<p><a href="/drift/report.html">The latest drift report</a></p>'
        )
    else:
        drift_text = "<p>No drift check yet.</p>"
    requests = recent_requests(layout.capture(str(state.get("model", ""))))
    request_rows = (
        "".join(
            f"<tr><td>{esc(r['time'])}</td><td><code>{esc(r['input'][:200])}</code></td>"
            f"<td><code>{esc(r['output'][:200])}</code></td></tr>"
            for r in requests
        )
        or '<tr><td colspan="3">No requests captured yet.</td></tr>'
    )
    links = "".join(
        f'<li><a href="{esc(href)}">{esc(text)}</a></li>'
        for text, href in (
            ("MLflow UI", urls.get("mlflow", "")),
            ("The latest drift report", "/drift/report.html"),
            ("The inference server's /metrics", urls.get("inference_metrics", "")),
            ("The platform's /metrics", "/metrics"),
            ("This status as JSON", "/status.json"),
        )
    )
    champion = state.get("champion_version")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ml-platform local</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}
code{{font-size:90%}}</style></head><body>
<h1>ml-platform local: {esc(state.get("phase", "unknown"))}</h1>
<p>{esc(state.get("message", ""))}</p>
<p>Model <strong>{esc(str(state.get("model", "")))}</strong>, champion version
{esc(str(champion) if champion is not None else "none")}. State folder
<code>{esc(str(layout.root))}</code>.</p>
<ul>{links}</ul>
<h2>Processes</h2>
<table><tr><th>process</th><th>pid</th><th>port</th><th>health</th><th>restarts</th>
<th>URL</th></tr>{rows}</table>
<h2>Drift</h2>{drift_text}
<h2>Recent requests</h2>
<table><tr><th>time</th><th>input</th><th>output</th></tr>{request_rows}</table>
</body></html>
"""


class StatusServer:
    """The status page's HTTP server on its own thread (127.0.0.1 only)."""

    def __init__(self, port: int, layout: Layout, state: Callable[[], dict[str, Any]]) -> None:
        handler = _handler(layout, state)
        self.httpd = ThreadingHTTPServer((HOST, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="status-page", daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on (the one given, or the one picked for port 0)."""
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        """Serve on the thread."""
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _handler(layout: Layout, state: Callable[[], dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Answers the status page's four paths."""

        def do_GET(self) -> None:
            path = self.path.partition("?")[0]
            if path == "/":
                self._send(200, render_page(state(), layout), "text/html; charset=utf-8")
            elif path == "/metrics":
                self._send(200, render_metrics(state()), METRICS_CONTENT_TYPE)
            elif path == "/status.json":
                self._send(200, json.dumps(state(), indent=2), "application/json")
            elif path == "/drift/report.html":
                report = layout.drift / "report.html"
                try:
                    body = report.read_text(encoding="utf-8")
                except OSError:
                    self._send(404, "no drift report yet\n", "text/plain; charset=utf-8")
                    return
                self._send(200, body, "text/html; charset=utf-8")
            else:
                self._send(404, "not found\n", "text/plain; charset=utf-8")

        def _send(self, status: int, body: str, content_type: str) -> None:
            data = body.encode("utf-8")
            self.send_response(HTTPStatus(status))
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the page is polled, and a line per request would swamp the log."""

    return Handler
