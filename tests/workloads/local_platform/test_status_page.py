"""The status page and the platform's metrics, rendered from a state and served on a port."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from workloads.local_platform.layout import Layout
from workloads.local_platform.status_page import (
    StatusServer,
    recent_requests,
    render_metrics,
    render_page,
)

STATE: dict[str, Any] = {
    "version": 1,
    "phase": "running",
    "message": "every process is healthy",
    "model": "churn",
    "champion_version": 2,
    "processes": [
        {"name": "mlflow", "pid": 11, "port": 5301, "url": "http://127.0.0.1:5301/",
         "health": "healthy", "restarts": 0},
        {"name": "inference", "pid": 12, "port": 5302, "url": "http://127.0.0.1:5302/",
         "health": "restarting", "restarts": 3},
    ],
    "urls": {"mlflow": "http://127.0.0.1:5301/",
             "inference_metrics": "http://127.0.0.1:5302/metrics"},
    "drift": {"checked_at": 1700000000.0, "checked_at_iso": "2023-11-14T22:13:20+00:00",
              "status": "drift", "message": "200 rows checked; drift in monthly_charges",
              "records": 200, "drift_detected": True,
              "psi": {"monthly_charges": 1.25, "tenure_months": 0.05},
              "drifted": ["monthly_charges"]},
}  # fmt: skip


def capture_line(time: str, data: str, answer: str) -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"data": data, "encoding": "CSV", "mode": "INPUT"},
                "endpointOutput": {"data": answer, "encoding": "JSON", "mode": "OUTPUT"},
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": time},
            "eventVersion": "0",
        }
    )


def test_the_metrics_say_per_process_up_and_restarts_and_the_last_drift_check() -> None:
    # when
    text = render_metrics(STATE)
    # then
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == [
        'ml_platform_local_process_up{process="mlflow"} 1',
        'ml_platform_local_process_up{process="inference"} 0',
        'ml_platform_local_process_restarts_total{process="mlflow"} 0',
        'ml_platform_local_process_restarts_total{process="inference"} 3',
        'ml_platform_local_champion_version{model="churn"} 2',
        "ml_platform_local_drift_last_check_timestamp_seconds 1700000000.000",
        "ml_platform_local_drift_detected 1",
        "ml_platform_local_drift_records 200",
        'ml_platform_local_feature_psi{feature="monthly_charges"} 1.25',
        'ml_platform_local_feature_psi{feature="tenure_months"} 0.05',
    ]
    assert "# TYPE ml_platform_local_process_restarts_total counter" in text


def test_before_any_drift_check_there_are_no_drift_metrics() -> None:
    state = {**STATE, "drift": None, "champion_version": None}
    assert "drift" not in render_metrics(state)
    assert "champion" not in render_metrics(state)


def test_recent_requests_are_the_newest_captured_first(tmp_path: Path) -> None:
    # given: two capture files, the later one in a later hour folder
    early = tmp_path / "2026" / "12" / "08" / "01" / "00-00-000-a.jsonl"
    late = tmp_path / "2026" / "12" / "08" / "02" / "00-00-000-b.jsonl"
    for path in (early, late):
        path.parent.mkdir(parents=True)
    early.write_text(capture_line("T1", "1,2,3\n", '{"predictions": [0]}') + "\n")
    late.write_text(
        capture_line("T2", "4,5,6\n", '{"predictions": [1]}')
        + "\nnot json\n"
        + capture_line("T3", "7,8,9\n", '{"predictions": [0]}')
        + "\n"
    )
    # when
    found = recent_requests(tmp_path, limit=2)
    # then
    assert found == [
        {"time": "T3", "input": "7,8,9", "output": '{"predictions": [0]}'},
        {"time": "T2", "input": "4,5,6", "output": '{"predictions": [1]}'},
    ]
    assert recent_requests(tmp_path / "missing") == []


def test_the_page_links_mlflow_the_report_the_endpoint_metrics_and_lists_requests(
    tmp_path: Path,
) -> None:
    # given
    layout = Layout.at(tmp_path)
    capture = layout.capture("churn") / "2026" / "x.jsonl"
    capture.parent.mkdir(parents=True)
    capture.write_text(capture_line("2026-12-08T02:00:00Z", "1,<b>,3", '{"predictions": [1]}'))
    # when
    page = render_page(STATE, layout)
    # then
    assert '<a href="http://127.0.0.1:5301/">MLflow UI</a>' in page
    assert '<a href="/drift/report.html">The latest drift report</a>' in page
    assert '<a href="http://127.0.0.1:5302/metrics">' in page
    assert "<td>2026-12-08T02:00:00Z</td><td><code>1,&lt;b&gt;,3</code></td>" in page
    assert "Drifted features: monthly_charges. PSI: monthly_charges 1.250" in page


@pytest.fixture
def server(tmp_path: Path) -> Any:
    layout = Layout.at(tmp_path)
    status = StatusServer(0, layout, lambda: STATE)
    status.start()
    yield status, layout
    status.stop()


def get(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_the_server_answers_the_page_metrics_status_and_report(server: Any) -> None:
    # given
    status, layout = server
    # when / then
    code, kind, body = get(status.port, "/metrics")
    assert (code, kind) == (200, "text/plain; version=0.0.4; charset=utf-8")
    assert 'ml_platform_local_process_restarts_total{process="inference"} 3' in body
    code, kind, body = get(status.port, "/status.json")
    assert (code, json.loads(body)["phase"]) == (200, "running")
    code, kind, body = get(status.port, "/")
    assert (code, kind) == (200, "text/html; charset=utf-8")
    assert get(status.port, "/drift/report.html")[:1] == (404,)
    layout.drift.mkdir()
    (layout.drift / "report.html").write_text("<html>report</html>")
    assert get(status.port, "/drift/report.html") == (
        200,
        "text/html; charset=utf-8",
        "<html>report</html>",
    )
    assert get(status.port, "/nope")[0] == 404
