"""The Prometheus exposition the server's /metrics answers with."""

from __future__ import annotations

from workloads.inference.metrics import Histogram, ServerMetrics


def test_histogram_buckets_are_cumulative_and_upper_bounds_inclusive() -> None:
    """Given four observations, when rendered, then buckets are cumulative with inclusive bounds."""
    histogram = Histogram("h_seconds", "Help text.", [0.1, 1.0])
    for value in (0.05, 0.1, 0.5, 7.0):
        histogram.observe(value)
    assert histogram.render() == [
        "# HELP h_seconds Help text.",
        "# TYPE h_seconds histogram",
        'h_seconds_bucket{le="0.1"} 2',
        'h_seconds_bucket{le="1.0"} 3',
        'h_seconds_bucket{le="+Inf"} 4',
        "h_seconds_sum 7.65",
        "h_seconds_count 4",
    ]
    assert histogram.count == 4


def test_request_counts_keep_path_labels_bounded() -> None:
    """Given requests to unknown paths, when counted, then they share the label 'other'."""
    metrics = ServerMetrics()
    metrics.count_request("/invocations", 200)
    metrics.count_request("/invocations", 200)
    metrics.count_request("/wp-admin", 404)
    metrics.count_request("/.env", 404)
    text = metrics.render(model_loaded=False, connections=3).decode()
    assert 'inference_requests_total{path="/invocations",status="200"} 2' in text
    assert 'inference_requests_total{path="other",status="404"} 2' in text
    assert "inference_model_loaded 0" in text
    assert "inference_open_connections 3" in text
    assert text.endswith("\n")


def test_batches_are_observed_by_requests_rows_and_time() -> None:
    """Given one batch of 3 requests and 5 rows, when rendered, then each histogram has it."""
    metrics = ServerMetrics()
    metrics.observe_batch(requests=3, rows=5, seconds=0.002)
    text = metrics.render(model_loaded=True, connections=0).decode()
    assert 'inference_batch_requests_bucket{le="4"} 1' in text
    assert 'inference_batch_rows_bucket{le="4"} 0' in text
    assert 'inference_batch_rows_bucket{le="8"} 1' in text
    assert "inference_predict_duration_seconds_count 1" in text


def test_in_flight_model_reloads_and_capture_are_rendered() -> None:
    """Given a model, reloads and captures, when rendered, then each has its sample."""
    metrics = ServerMetrics()
    metrics.model_reloads, metrics.model_reload_failures = 2, 1
    model = {"name": "churn", "framework": "sklearn", "task": "classification", "version": "c/3"}
    text = metrics.render(
        model_loaded=True,
        connections=4,
        in_flight=3,
        model=model,
        capture_enabled=True,
        captured=7,
        capture_failures=0,
    ).decode()
    assert "inference_requests_in_flight 3\n" in text
    assert (
        'inference_model_info{framework="sklearn",name="churn",task="classification",'
        'version="c/3"} 1\n'
    ) in text
    assert "inference_model_reloads_total 2\n" in text
    assert "inference_model_reload_failures_total 1\n" in text
    assert "inference_capture_enabled 1\n" in text
    assert "inference_capture_records_total 7\n" in text
    assert "inference_capture_failures_total 0\n" in text


def test_model_info_has_no_sample_before_a_model_and_escapes_label_values() -> None:
    """Given no model, then no info sample; given a quoted name, then it is escaped."""
    metrics = ServerMetrics()
    assert "inference_model_info{" not in metrics.render(model_loaded=False, connections=0).decode()
    text = metrics.render(model_loaded=True, connections=0, model={"name": 'a"b\\c\nd'}).decode()
    assert 'inference_model_info{name="a\\"b\\\\c\\nd"} 1\n' in text
