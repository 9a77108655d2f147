"""The Grafana dashboard of the inference server against what the server's /metrics exposes.

Every PromQL expression of ``workloads/inference/grafana/inference-server.json`` is parsed for
the metric names and label names it uses, and each must be in a real scrape of a running server,
so the dashboard cannot drift from ``workloads/inference/metrics.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workloads.inference.conftest import ThreadServer, invoke, request
from workloads.model_layout import LoadedModel

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "workloads" / "inference" / "grafana" / "inference-server.json"
SCHEMA_VERSION = 41
"""Grafana 12's dashboard schema; later versions' migrations change nothing used here."""
TARGET_LABELS = {"job", "instance"}
"""Labels Prometheus adds to every scraped series."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_NAME = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}


def dashboard() -> dict[str, Any]:
    """The dashboard JSON, parsed."""
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those nested in collapsed rows included."""
    for panel in model["panels"]:
        yield panel
        yield from panel.get("panels", [])


def expressions(model: dict[str, Any]) -> list[str]:
    """Every PromQL expression: panel targets and query variables."""
    found = [target["expr"] for panel in panels(model) for target in panel.get("targets", [])]
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            found.append(variable["query"]["query"])
    return found


def parse(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and the label names a PromQL expression uses.

    Label names come from matchers (``{path="/x"}``) and groupings (``by (le)``); metric names
    are the remaining identifiers that are neither functions (followed by a parenthesis) nor
    keywords. Strings and range durations (``[$__rate_interval]``) are dropped first.
    """
    text = _RANGE.sub("", _STRING.sub('""', expr))
    labels: set[str] = set()
    for matchers in _MATCHERS.findall(text):
        labels.update(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    text = _MATCHERS.sub(" ", text)
    for grouping in _GROUPING.findall(text):
        labels.update(name.strip() for name in grouping.split(",") if name.strip())
    text = _GROUPING.sub(" ", text)
    if "label_values(" in expr:  # label_values(metric, label): the second is a label
        labels.add(text.rsplit(",", 1)[1].strip(" )"))
        text = text.rsplit(",", 1)[0]
    metrics = {
        name
        for name, call in _NAME.findall(text)
        if not call and name not in _KEYWORDS and name != "label_values"
    }
    return metrics, labels


def scrape_names(text: str) -> tuple[set[str], set[str]]:
    """The sample names and label names of an exposition text."""
    names: set[str] = set()
    labels: set[str] = set()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        sample = line.rsplit(" ", 1)[0]
        name, _, rest = sample.partition("{")
        names.add(name)
        labels.update(re.findall(r"([a-zA-Z_]\w*)=\"", rest))
    return names, labels


@pytest.fixture
def scrape(
    sklearn_model: LoadedModel, tmp_path: Path, start_server: Callable[..., ThreadServer]
) -> str:
    """/metrics of a server with capture on, after one invocation and one unknown path."""
    server = start_server(sklearn_model, capture_dir=tmp_path / "capture")
    assert invoke(server.port, "0.5,1.0,-0.2,0.3", "text/csv").status == 200
    assert request(server.port, "GET", "/no-such-path").status == 404
    answer = request(server.port, "GET", "/metrics")
    assert answer.status == 200
    return answer.body.decode()


def test_the_parser_finds_metrics_and_labels_and_skips_functions() -> None:
    # given an expression with a function, a grouping, matchers, a range and a number
    expr = (
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{job=~"$job", path="/x"}'
        "[$__rate_interval]))) / clamp_min(sum(rate(b_total[5m])), 1e-9)"
    )
    # when it is parsed / then it names both metrics and the three labels, no function
    assert parse(expr) == ({"a_bucket", "b_total"}, {"le", "job", "path"})


def test_every_metric_and_label_the_dashboard_queries_is_in_a_real_scrape(scrape: str) -> None:
    # given the names a running server exposes (plus the labels Prometheus adds)
    names, labels = scrape_names(scrape)
    labels |= TARGET_LABELS
    # when every expression of the dashboard is parsed
    used_metrics: set[str] = set()
    used_labels: set[str] = set()
    for expr in expressions(dashboard()):
        metrics, expr_labels = parse(expr)
        assert metrics, f"no metric found in {expr!r}"
        used_metrics |= metrics
        used_labels |= expr_labels
    # then each is exposed
    assert used_metrics - names == set()
    assert used_labels - labels == set()
    # and the dashboard shows every family the server exports (none forgotten)
    families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}
    shown = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used_metrics}
    assert families - shown == set()


def test_the_dashboard_is_a_grafana_model_with_datasource_job_and_instance_variables() -> None:
    # given the dashboard / when its settings are read
    model = dashboard()
    variables = {variable["name"]: variable for variable in model["templating"]["list"]}
    # then it is the current schema, with a Prometheus data source variable
    assert model["schemaVersion"] == SCHEMA_VERSION
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == (
        "datasource",
        "prometheus",
    )
    # and job and instance query variables, multi-valued with an All that matches everything
    for name in ("job", "instance"):
        assert variables[name]["type"] == "query"
        assert (variables[name]["multi"], variables[name]["allValue"]) == (True, ".*")
    # and every query panel reads the chosen data source and filters by job and instance
    queried = [panel for panel in panels(model) if panel["type"] != "row"]
    assert queried
    for panel in queried:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert 'job=~"$job", instance=~"$instance"' in target["expr"], panel["title"]
    # and panel ids are unique
    ids = [panel["id"] for panel in panels(model)]
    assert len(ids) == len(set(ids))
