"""The check's HTML report: one offline page with a table, violations and plots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workloads.monitoring.report import NO_FIGURE, render_report, write_report

SCRIPT = "<script>alert(1)</script>"


def numeric_feature(name: str, drifted: bool = False, **changes: Any) -> dict[str, Any]:
    """A numeric input feature of summary.json with three bins."""
    feature: dict[str, Any] = {
        "name": name,
        "kind": "numeric",
        "role": "input",
        "count": 120,
        "missing_rate": 0.025,
        "baseline_missing_rate": 0.01,
        "ks_statistic": 0.31 if drifted else 0.04,
        "ks_p_value": 1.5e-9 if drifted else 0.72,
        "psi": 0.42 if drifted else 0.02,
        "js_distance": None,
        "type_violation_rate": 0.0,
        "range_violation_rate": 0.05,
        "unseen_categories": [],
        "drifted": drifted,
        "note": None,
        "distribution": {
            "kind": "bins",
            "edges": [18.0, 30.0, 45.0, 80.0],
            "baseline": [0.33, 0.34, 0.33],
            "current": [0.1, 0.3, 0.6] if drifted else [0.32, 0.35, 0.33],
        },
    }
    feature.update(changes)
    return feature


def categorical_feature(name: str, drifted: bool = False, **changes: Any) -> dict[str, Any]:
    """A categorical input feature of summary.json with three labels."""
    feature: dict[str, Any] = {
        "name": name,
        "kind": "categorical",
        "role": "input",
        "count": 120,
        "missing_rate": 0.0,
        "baseline_missing_rate": 0.0,
        "ks_statistic": None,
        "ks_p_value": None,
        "psi": None,
        "js_distance": 0.35 if drifted else 0.03,
        "type_violation_rate": 0.0,
        "range_violation_rate": None,
        "unseen_categories": ["mars"] if drifted else [],
        "drifted": drifted,
        "note": None,
        "distribution": {
            "kind": "categories",
            "labels": ["north", "south", "east"],
            "baseline": [0.5, 0.3, 0.2],
            "current": [0.2, 0.3, 0.5] if drifted else [0.5, 0.3, 0.2],
        },
    }
    feature.update(changes)
    return feature


def summary(*features: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A check's summary.json document with ``features``."""
    document: dict[str, Any] = {
        "endpoint": "mlp-dev-churn",
        "window": {"start": "2025-03-01T10:00:00+00:00", "end": "2025-03-01T11:00:00+00:00"},
        "status": "drift" if any(f["drifted"] for f in features) else "ok",
        "message": "2 features drifted",
        "records": 120,
        "capture_lines": 121,
        "malformed": 1,
        "malformed_examples": [{"file": "a/b.jsonl", "line": 7, "reason": "not JSON"}],
        "thresholds": {"psi": 0.2, "ks_statistic": 0.1, "js_distance": 0.1},
        "features": list(features),
        "violations": [
            {
                "feature_name": "age",
                "constraint_check_type": "data_drift_check",
                "description": "PSI 0.42 is above 0.2",
            }
        ],
    }
    document.update(changes)
    return document


def feature_rows(page: str) -> list[str]:
    """The feature table's body rows."""
    table = page.split("<h2>Features</h2>", 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr(?: class=\"drifted\")?><td.*?</tr>", table)


def test_the_report_is_written_to_the_path(tmp_path: Path) -> None:
    # given
    document = summary(numeric_feature("age"))
    # when
    written = write_report(document, tmp_path / "out" / "report.html")
    # then
    assert written == tmp_path / "out" / "report.html"
    assert written.read_text(encoding="utf-8") == render_report(document)


def test_the_header_names_the_endpoint_window_status_and_message() -> None:
    # given
    document = summary(numeric_feature("age"), message="all quiet")
    # when
    page = render_report(document)
    # then
    assert "<h1>Drift report: mlp-dev-churn</h1>" in page
    assert "2025-03-01T10:00:00+00:00 to 2025-03-01T11:00:00+00:00" in page
    assert '<span class="status status-ok">ok</span>' in page
    assert "<dd>all quiet</dd>" in page


def test_the_checks_notes_and_skipped_invocations_are_shown() -> None:
    # given
    document = summary(
        numeric_feature("age"),
        outside_window=4,
        notes=["no predictions were captured: prediction drift is not checked"],
    )
    # when
    page = render_report(document)
    # then
    assert "<dt>Outside the window</dt><dd>4</dd>" in page
    assert "<dd>no predictions were captured: prediction drift is not checked</dd>" in page


def test_the_requests_read_are_shown() -> None:
    # given
    document = summary(numeric_feature("age"), requests=118)
    # when
    page = render_report(document)
    # then
    assert "<dt>Requests (lines) read</dt><dd>118</dd>" in page


def test_a_window_without_bounds_shows_no_figure() -> None:
    # given
    document = summary(numeric_feature("age"), window={"start": None, "end": None})
    # when
    page = render_report(document)
    # then
    assert f"<dd>{NO_FIGURE} to {NO_FIGURE}</dd>" in page


def test_the_table_has_one_row_per_feature() -> None:
    # given
    document = summary(
        numeric_feature("age"), numeric_feature("income"), categorical_feature("region")
    )
    # when
    rows = feature_rows(render_report(document))
    # then
    assert [re.search(r'<td class="text">([^<]*)', row)[1] for row in rows] == [
        "age",
        "income",
        "region",
    ]


def test_drifted_rows_are_highlighted() -> None:
    # given
    document = summary(numeric_feature("age", drifted=True), numeric_feature("income"))
    # when
    rows = feature_rows(render_report(document))
    # then
    assert [row.startswith('<tr class="drifted">') for row in rows] == [True, False]


def test_a_row_shows_the_figures() -> None:
    # given
    document = summary(numeric_feature("age", drifted=True))
    # when
    (row,) = feature_rows(render_report(document))
    # then
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells == [
        "age",
        "numeric",
        "input",
        "120",
        "2.5% (1.0%)",
        "0.31",
        "1.5e-09",
        "0.42",
        NO_FIGURE,
        "0.0%",
        "5.0%",
        NO_FIGURE,
        "yes",
    ]


def test_one_plot_per_drifted_feature() -> None:
    # given two drifted features and two that did not drift
    document = summary(
        numeric_feature("age", drifted=True),
        numeric_feature("income"),
        categorical_feature("region", drifted=True),
        categorical_feature("plan"),
    )
    # when
    page = render_report(document)
    # then
    assert page.count("<svg") == 2
    assert 'aria-label="Baseline and current distribution of age"' in page
    assert 'aria-label="Baseline and current distribution of region"' in page


def test_the_prediction_is_plotted_even_when_it_did_not_drift() -> None:
    # given
    prediction = numeric_feature("prediction", role="prediction")
    document = summary(numeric_feature("age"), prediction)
    # when
    page = render_report(document)
    # then
    assert page.count("<svg") == 1
    assert 'aria-label="Baseline and current distribution of prediction"' in page


def test_a_bins_plot_draws_two_bars_per_bin_and_labels_the_edges() -> None:
    # given
    document = summary(numeric_feature("age", drifted=True))
    # when
    svg = render_report(document).split("<svg", 1)[1].split("</svg>", 1)[0]
    # then
    assert svg.count("<title>baseline bin") == 3
    assert svg.count("<title>current bin") == 3
    assert [label for label in ("18", "30", "45", "80") if f">{label}</text>" in svg] == [
        "18",
        "30",
        "45",
        "80",
    ]


def test_a_categories_plot_draws_two_bars_per_label() -> None:
    # given
    document = summary(categorical_feature("region", drifted=True))
    # when
    svg = render_report(document).split("<svg", 1)[1].split("</svg>", 1)[0]
    # then
    assert svg.count("<title>baseline ") == 3
    assert svg.count("<title>current ") == 3
    assert "<title>current east: 50.0%</title>" in svg


def test_a_feature_named_like_a_script_is_escaped() -> None:
    # given
    document = summary(numeric_feature(SCRIPT, drifted=True))
    # when
    page = render_report(document)
    # then
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_category_named_like_a_script_is_escaped() -> None:
    # given
    feature = categorical_feature(
        "region",
        drifted=True,
        unseen_categories=[SCRIPT],
        distribution={
            "kind": "categories",
            "labels": [SCRIPT, "south"],
            "baseline": [0.5, 0.5],
            "current": [0.9, 0.1],
        },
    )
    # when
    page = render_report(summary(feature))
    # then
    assert SCRIPT not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3


def test_messages_violations_and_file_names_are_escaped() -> None:
    # given
    document = summary(
        numeric_feature("age"),
        message=SCRIPT,
        violations=[
            {"feature_name": SCRIPT, "constraint_check_type": SCRIPT, "description": SCRIPT}
        ],
        malformed_examples=[{"file": SCRIPT, "line": 1, "reason": SCRIPT}],
    )
    # when
    page = render_report(document)
    # then
    assert "<script" not in page


def test_the_page_loads_nothing_from_outside() -> None:
    # given
    document = summary(numeric_feature("age", drifted=True), categorical_feature("region", True))
    # when
    page = render_report(document)
    # then
    assert "://" not in page
    assert not re.search(r"\b(src|href)=", page)
    assert "<script" not in page


def test_an_empty_window_says_there_were_no_requests() -> None:
    # given
    document = summary(
        status="empty",
        message="no captured requests",
        records=0,
        capture_lines=0,
        malformed=0,
        malformed_examples=[],
        violations=[],
    )
    # when
    page = render_report(document)
    # then
    assert "No captured requests in this window." in page
    assert "<h2>Features</h2>" not in page
    assert "<svg" not in page


def test_an_all_missing_feature_shows_no_figures() -> None:
    # given
    feature = numeric_feature(
        "age",
        count=0,
        missing_rate=1.0,
        ks_statistic=None,
        ks_p_value=None,
        psi=None,
        range_violation_rate=None,
        distribution=None,
        note="every value is missing",
    )
    # when
    (row,) = feature_rows(render_report(summary(feature)))
    # then
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[3:9] == ["0", "100.0% (1.0%)", NO_FIGURE, NO_FIGURE, NO_FIGURE, NO_FIGURE]
    assert 'class="note">every value is missing' in cells[0]


def test_a_drifted_feature_without_a_distribution_gets_a_note_instead_of_a_plot() -> None:
    # given
    document = summary(numeric_feature("age", drifted=True, distribution=None))
    # when
    page = render_report(document)
    # then
    assert "<svg" not in page
    assert "No distribution to draw for this feature in this window." in page


def test_malformed_lines_are_listed() -> None:
    # given
    document = summary(numeric_feature("age"))
    # when
    page = render_report(document)
    # then
    assert (
        '<tr><td class="text">a/b.jsonl</td><td>7</td><td class="text">not JSON</td></tr>' in page
    )
