"""The stack's dashboard: one per stack, its widgets well-formed, every metric one that exists."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.serving.spec import ServingEndpointConfig
from stacks import dashboard as dashboard_module
from stacks.config import load_platform_config
from stacks.dashboard import (
    MAX_BODY_BYTES,
    MAX_WIDGETS,
    PIPELINES_NAMESPACE,
    SAGEMAKER_NAMESPACE,
    checked_body,
    dashboard_widgets,
)
from stacks.layers import layer_urn
from stacks.offline.mock_runtime import run_offline
from stacks.offline.plan import render
from tests.conftest import Plan, stack_config, with_section
from tests.workloads.monitoring.samples import (
    FEATURES,
    sample_baseline,
    window_lines,
    write_capture,
)
from workloads.monitoring import contract
from workloads.monitoring.capture import capture_files, read_capture
from workloads.monitoring.check import check_capture

DASHBOARD_TYPE = "aws:cloudwatch/dashboard:Dashboard"

ENDPOINT_DIMENSIONS = frozenset({"EndpointName", "VariantName"})
#: What AWS documents. Endpoint invocation metrics and serverless metrics (namespace AWS/SageMaker,
#: dimensions EndpointName, VariantName):
#: https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-endpoint-invocation
#: https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html
#: SageMaker Pipelines' execution metrics (dimension PipelineName):
#: https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-pipelines
AWS_DOCUMENTED = {
    **{
        (SAGEMAKER_NAMESPACE, metric): ENDPOINT_DIMENSIONS
        for metric in (
            "Invocations",
            "ModelLatency",
            "Invocation4XXErrors",
            "Invocation5XXErrors",
            "InvocationsPerInstance",
            "ModelSetupTime",
            "ServerlessConcurrentExecutionsUtilization",
        )
    },
    **{
        (PIPELINES_NAMESPACE, metric): frozenset({"PipelineName"})
        for metric in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed")
    },
}

SEARCH = re.compile(
    r"^SEARCH\('\{(?P<namespace>[^,}]+),(?P<dimensions>[^}]+)\} MetricName=\"(?P<metric>\w+)\""
    r"(?P<filters>(?: \w+=\"[^\"]+\")*)', '(?P<stat>\w+)', (?P<period>\d+)\)$"
)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], frozenset[str]]:
    """What the monitor's check really publishes: (namespace, metric) to its dimension names.

    A drifted window through the real check, so every metric (per endpoint and per feature)
    is in its metrics.json.
    """
    folder = tmp_path_factory.mktemp("capture")
    write_capture(folder, window_lines(300, shift=20.0))
    data = read_capture(capture_files(folder), FEATURES, root=folder)
    result = check_capture(sample_baseline(), data, endpoint="mlp-dev-shop")
    document = result.metrics(datetime(2026, 12, 8, tzinfo=UTC))
    return {
        (str(document["namespace"]), entry["name"]): frozenset(entry["dimensions"])
        for entry in document["metrics"]  # type: ignore[union-attr]
    }


def dashboard_of(plan: Plan) -> tuple[Any, dict[str, Any]]:
    (dashboard,) = plan.of_type(DASHBOARD_TYPE)
    return dashboard, json.loads(dashboard.inputs["dashboardBody"])


def metric_rows(widget: dict[str, Any]) -> list[list[Any]]:
    return widget["properties"]["metrics"]


def references(row: list[Any]) -> tuple[str, str, dict[str, str]] | None:
    """A metric row's namespace, metric and dimensions (None for an expression row)."""
    fields = [item for item in row if not isinstance(item, dict)]
    if not fields:
        return None
    namespace, metric, *pairs = fields
    return namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True))


def test_each_stack_has_one_dashboard_named_after_it_on_the_stack_provider(plan: Plan) -> None:
    # given the stack's plan / then it holds one dashboard mlp-<env>, through the stack's provider
    dashboard, body = dashboard_of(plan)
    environment = plan.run.stack
    assert dashboard.inputs["dashboardName"] == f"mlp-{environment}"
    # inside the data layer, so it is in that layer's --target and goes away with it
    assert dashboard.parent == layer_urn(environment, "data")
    (provider,) = plan.of_type("pulumi:providers:aws")
    assert dashboard.provider == provider.urn
    # and its widgets are those its config asks for
    config = load_platform_config(environment, stack_config(environment))
    assert body == {"widgets": dashboard_widgets(config)}


def test_the_body_is_within_cloudwatch_limits(plan: Plan) -> None:
    dashboard, body = dashboard_of(plan)
    assert 0 < len(body["widgets"]) <= MAX_WIDGETS
    assert len(dashboard.inputs["dashboardBody"].encode("utf-8")) <= MAX_BODY_BYTES


def test_every_widget_has_the_fields_cloudwatch_requires(plan: Plan) -> None:
    # CloudWatch's dashboard body structure: each widget has type, x, y, width, height and
    # properties; a metric widget's properties have metrics, view, region and title
    _, body = dashboard_of(plan)
    for widget in body["widgets"]:
        assert widget["type"] == "metric"
        assert widget["x"] >= 0 and widget["x"] + widget["width"] <= 24
        assert widget["y"] >= 0 and 1 <= widget["height"] <= 1000
        properties = widget["properties"]
        assert {"metrics", "view", "region", "title"} <= set(properties), properties["title"]
        assert properties["view"] in {"timeSeries", "singleValue", "bar", "pie", "gauge"}
        assert properties["region"] == "us-east-1"
        # a metrics array holds 1 to 100 rows, each a metric or an expression
        assert 1 <= len(properties["metrics"]) <= 100


def test_every_metric_is_one_aws_documents_or_the_platform_publishes(
    plan: Plan, published: dict[tuple[str, str], frozenset[str]]
) -> None:
    _, body = dashboard_of(plan)
    known = {**AWS_DOCUMENTED, **published}
    seen_namespaces = set()
    for widget in body["widgets"]:
        ids = set()
        for row in metric_rows(widget):
            options = row[-1] if isinstance(row[-1], dict) else {}
            ids.add(options.get("id"))
            reference = references(row)
            if reference is None:
                expression = options["expression"]
                search = SEARCH.match(expression)
                if search:
                    key = (search["namespace"], search["metric"])
                    dimensions = frozenset(search["dimensions"].split(","))
                    assert known[key] == dimensions, expression
                    seen_namespaces.add(search["namespace"])
                else:
                    # metric math refers to metric ids of the same widget only
                    assert set(re.findall(r"\bm\d+\b", expression)) <= ids, expression
                continue
            namespace, metric, dimensions = reference
            assert known.get((namespace, metric)) == frozenset(dimensions), row
            seen_namespaces.add(namespace)
    # and the stack files deploy endpoints, a monitor and a training pipeline
    assert seen_namespaces == {SAGEMAKER_NAMESPACE, PIPELINES_NAMESPACE, contract.METRIC_NAMESPACE}


def widgets_titled(body: dict[str, Any], fragment: str) -> list[dict[str, Any]]:
    return [w for w in body["widgets"] if fragment in w["properties"]["title"]]


def endpoints_of(plan: Plan) -> Iterator[tuple[str, ServingEndpointConfig, dict[str, Any]]]:
    """Each serving endpoint of the plan's stack: its full name, its config, the dashboard body."""
    environment = plan.run.stack
    config = load_platform_config(environment, stack_config(environment))
    _, body = dashboard_of(plan)
    for endpoint in config.serving.endpoints:
        yield f"mlp-{environment}-{endpoint.name}", endpoint, body


def test_endpoint_widgets_cover_variants_latency_errors_and_shares(plan: Plan) -> None:
    for name, endpoint, body in endpoints_of(plan):
        variants = {v.name for v in endpoint.all_variants}
        (invocations,) = widgets_titled(body, f"{name}: invocations per variant")
        assert {row[5] for row in metric_rows(invocations)} == variants
        (latency,) = widgets_titled(body, f"{name}: ModelLatency")
        assert "microseconds" in latency["properties"]["title"]
        stats = {(row[5], row[6]["stat"]) for row in metric_rows(latency)}
        assert stats == {(v, p) for v in variants for p in ("p50", "p90", "p99")}
        (errors,) = widgets_titled(body, f"{name}: 4XX and 5XX")
        assert {(row[1], row[5]) for row in metric_rows(errors)} == {
            (m, v) for m in ("Invocation4XXErrors", "Invocation5XXErrors") for v in variants
        }
        (shares,) = widgets_titled(body, f"{name}: traffic share")
        expressions = [row[0]["expression"] for row in metric_rows(shares) if len(row) == 1]
        assert len(expressions) == len(endpoint.variants)
        total = " + ".join(f"m{i}" for i in range(len(endpoint.variants)))
        assert expressions[0] == f"100 * m0 / ({total})"


def test_autoscaled_variants_are_drawn_against_their_target(plan: Plan) -> None:
    for name, endpoint, body in endpoints_of(plan):
        scaled = [v for v in endpoint.all_variants if v.autoscaling]
        widgets = widgets_titled(body, f"{name}: invocations per instance")
        if not scaled:
            assert widgets == []
            continue
        (widget,) = widgets
        assert [row[5] for row in metric_rows(widget)] == [v.name for v in scaled]
        targets = widget["properties"]["annotations"]["horizontal"]
        assert [t["value"] for t in targets] == [
            v.autoscaling.target_invocations_per_instance for v in scaled if v.autoscaling
        ]


def test_serverless_variants_show_setup_time_and_concurrency(plans: dict[str, Plan]) -> None:
    # given dev, whose sandbox endpoint is serverless
    _, body = dashboard_of(plans["dev"])
    (widget,) = widgets_titled(body, "mlp-dev-churn-sandbox: serverless")
    assert {row[1] for row in metric_rows(widget)} == {
        "ModelSetupTime",
        "ServerlessConcurrentExecutionsUtilization",
    }
    # and the instance-based endpoint has no such widget
    assert widgets_titled(body, "mlp-dev-churn: serverless") == []


def test_each_monitor_has_one_drift_widget_with_psi_per_feature(plan: Plan) -> None:
    environment = plan.run.stack
    config = load_platform_config(environment, stack_config(environment))
    _, body = dashboard_of(plan)
    for entry in config.monitoring.endpoints:
        endpoint = entry.endpoint_name(environment)
        (widget,) = widgets_titled(body, f"{endpoint}: drift")
        rows = metric_rows(widget)
        search = SEARCH.match(rows[0][0]["expression"])
        assert search is not None
        assert search["filters"] == f' Endpoint="{endpoint}"'
        assert {row[1] for row in rows[1:]} == {
            contract.PREDICTION_PSI,
            contract.FEATURES_DRIFTED,
            contract.CONSTRAINT_VIOLATIONS,
        }


def test_only_the_layers_a_stack_lists_get_widgets(run_stack) -> None:
    # given dev without the monitoring and training layers
    flat = with_section(stack_config("dev"), "layers", ["data", "serving"])
    # when the program runs
    _, body = dashboard_of(run_stack("dev", flat))
    # then only endpoint widgets are drawn
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles
    assert not [t for t in titles if "drift" in t or "pipeline" in t]


def test_a_stack_with_nothing_to_graph_has_no_dashboard(run_stack) -> None:
    flat = with_section(stack_config("dev"), "layers", ["data"])
    assert run_stack("dev", flat).of_type(DASHBOARD_TYPE) == []


def test_the_plan_shows_the_widget_count(plan: Plan) -> None:
    _, body = dashboard_of(plan)
    name = f"mlp-{plan.run.stack}-dashboard"
    assert f"{DASHBOARD_TYPE}  {name}   widgets={len(body['widgets'])}" in render(plan.run)


def test_too_many_widgets_is_refused_with_the_limit() -> None:
    widget = {"type": "metric", "properties": {}}
    assert json.loads(checked_body([widget] * MAX_WIDGETS, "mlp-dev")) == {
        "widgets": [widget] * MAX_WIDGETS
    }
    with pytest.raises(ValueError) as error:
        checked_body([widget] * (MAX_WIDGETS + 1), "mlp-dev")
    assert str(error.value) == "dashboard mlp-dev: 501 widgets, CloudWatch allows at most 500"


def test_a_body_over_one_megabyte_is_refused_with_its_size() -> None:
    widget = {"type": "metric", "properties": {"title": "x" * 2_000}}
    body = checked_body([widget] * 450, "mlp-dev")
    assert len(body) < MAX_BODY_BYTES
    with pytest.raises(ValueError) as error:
        checked_body([widget] * 499, "mlp-dev")
    size = len(json.dumps({"widgets": [widget] * 499}, separators=(",", ":")))
    assert size > MAX_BODY_BYTES
    assert str(error.value) == (
        f"dashboard mlp-dev: body of {size} bytes, CloudWatch allows at most 1000000"
    )


def test_the_dashboard_module_builds_plain_data_without_pulumi() -> None:
    source = (Path(__file__).parents[2] / "stacks" / "dashboard.py").read_text()
    assert "import pulumi" not in source


def test_a_dashboard_past_the_limit_stops_the_program_before_any_resource(
    monkeypatch: pytest.MonkeyPatch, registered_types: list[str]
) -> None:
    # given a widget limit below what dev draws (11 widgets)
    monkeypatch.setattr(dashboard_module, "MAX_WIDGETS", 5)
    # when the program runs / then it stops with one line naming the dashboard and the limit
    with pytest.raises(pulumi.RunError) as raised:
        run_offline("dev", stack_config("dev"))
    assert str(raised.value) == "dashboard mlp-dev: 11 widgets, CloudWatch allows at most 5"
    # and nothing but the root stack was registered
    assert [type_ for type_ in registered_types if type_ != "pulumi:pulumi:Stack"] == []
