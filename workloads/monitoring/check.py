"""The check: a window of captured traffic against the baseline, feature by feature.

Per numeric feature: KS statistic and p-value, PSI over the baseline's decile bins, the missing
rate, the share of values that are not numbers (or not whole numbers for an Integral feature),
and the share outside the baseline's [min, max]. Per categorical feature: Jensen-Shannon distance
over the baseline's categories (unseen ones gathered as one), the missing rate and the unseen
categories. The predictions are compared the same way (prediction drift).

A numeric feature drifted when its PSI or its KS statistic reaches its threshold; a categorical
one when its JS distance does. Violations use Model Monitor's check types (``baseline_drift_check``,
``completeness_check``, ``data_type_check``, ``missing_column_check``, ``extra_column_check``,
``categorical_values_check``) plus ``range_check`` for values outside the baseline's range.

A window is folded into counts as it is read (:class:`WindowAccumulator`): where each numeric
value falls in the baseline's sorted sample (exact KS), PSI bin counts, missing, type and range
counters, capped category counts. So :func:`check_window` needs memory for the baseline and one
chunk of rows (:class:`~workloads.monitoring.limits.Limits`), whatever the window's size.
Prepared numeric columns (:func:`compare_columns`) are compared on a thread pool: binary search
runs in numpy without the GIL.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from workloads.monitoring import contract
from workloads.monitoring.baseline import (
    Baseline,
    CategoricalBaseline,
    FeatureBaseline,
    NumericBaseline,
    WrongTypes,
    category,
    is_missing,
    numeric_values,
)
from workloads.monitoring.capture import CaptureData, printable, scan_capture
from workloads.monitoring.limits import Limits
from workloads.monitoring.statistics import (
    UNSEEN,
    WindowPositions,
    bin_counts,
    js_distance,
    psi,
    shares_with_unseen,
)

#: The feature name of the one violation that sums up too many distinct unknown keys.
UNKNOWN_KEYS = "<unknown keys>"

#: Below this many present values a feature's drift figures are flagged as unreliable.
SMALL_SAMPLE = 100


@dataclass(frozen=True)
class Thresholds:
    """When a feature counts as drifted and when a check reports a violation."""

    psi: float = 0.2
    """PSI at or above which a numeric input drifted (0.1-0.2 is commonly read as moderate)."""
    ks_statistic: float = 0.1
    """KS statistic at or above which a numeric input drifted."""
    js_distance: float = 0.1
    """Jensen-Shannon distance at or above which a categorical input drifted."""
    missing_rate_increase: float = 0.05
    """How far the missing rate may rise above the baseline's before it is a violation."""
    range_violation_rate: float = 0.01
    """Share of values outside the baseline's range (or unseen categories) allowed."""
    type_violation_rate: float = 0.01
    """Share of values of the wrong type allowed."""
    prediction_psi: float = 0.2
    """PSI (JS distance for categorical predictions) at or above which the predictions drifted."""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"threshold {name} must be a number >= 0, got {value!r}")


@dataclass
class FeatureResult:
    """One feature's figures in a window."""

    name: str
    """The feature (``prediction`` for the output)."""
    kind: str
    """``numeric`` or ``categorical``."""
    role: str
    """``input`` or ``prediction``."""
    count: int
    """Present values of the right type in the window."""
    missing_rate: float
    """Share of the window's rows where the feature was missing."""
    baseline_missing_rate: float
    """The same share in the baseline."""
    ks_statistic: float | None = None
    """KS statistic (numeric; None when no value is present)."""
    ks_p_value: float | None = None
    """KS p-value (numeric)."""
    psi: float | None = None
    """Population stability index (numeric)."""
    js_distance: float | None = None
    """Jensen-Shannon distance (categorical)."""
    type_violation_rate: float = 0.0
    """Share of present values of the wrong type."""
    range_violation_rate: float | None = None
    """Share of numbers outside the baseline's [min, max] (numeric)."""
    unseen_categories: list[str] = field(default_factory=list)
    """Categories the baseline never saw (categorical; the 20 most frequent)."""
    unseen_rate: float = 0.0
    """Share of present values in unseen categories."""
    drifted: bool = False
    """Whether a drift figure reached its threshold."""
    note: str | None = None
    """Why figures are missing or unreliable."""
    distribution: dict[str, object] | None = None
    """Baseline and window shares over the bins or categories, for the report."""


def _counts_result(
    baseline: FeatureBaseline,
    role: str,
    *,
    count: int,
    present: int,
    rows: int,
    type_violation_rate: float = 0.0,
) -> FeatureResult:
    """A feature's result from its window's counts alone, before any drift figure.

    ``count`` values of the right type, ``present`` values at all, in ``rows`` rows; the missing
    rate is the share of rows without a value. With no value of the right type the result notes
    that there are no drift figures, and the caller returns it as it is.
    """
    result = FeatureResult(
        name=baseline.name,
        kind=baseline.kind,
        role=role,
        count=count,
        missing_rate=(rows - present) / rows if rows else 0.0,
        baseline_missing_rate=baseline.missing_rate,
        type_violation_rate=type_violation_rate,
    )
    if count == 0:
        result.note = "no value present in the window: no drift figures"
    return result


class NumericCounts:
    """One numeric feature's window, folded into counts piece by piece."""

    def __init__(self, baseline: NumericBaseline) -> None:
        """Start counting a window of ``baseline``'s feature."""
        self.baseline = baseline
        self.positions = WindowPositions(baseline.values)
        self.bins = np.zeros(baseline.edges.shape[0] + 1, dtype=np.int64)
        self.outside = 0
        self.rows = 0
        self.not_numbers = 0
        self.fractions = 0

    def add_numbers(self, values: np.ndarray, *, rows: int, wrong: WrongTypes) -> None:
        """Count a piece of ``rows`` cells, prepared.

        ``values`` is float64 with NaN where a cell is missing or not a number; ``wrong`` counts
        the piece's cells of the wrong type.
        """
        present = np.asarray(values, dtype=np.float64)
        ordered = np.sort(present[~np.isnan(present)])
        self.positions.add(ordered, ordered=True)
        self.bins += bin_counts(ordered, self.baseline.edges)
        self.outside += int(np.searchsorted(ordered, self.baseline.minimum, side="left"))
        self.outside += ordered.shape[0] - int(
            np.searchsorted(ordered, self.baseline.maximum, side="right")
        )
        self.rows += rows
        self.not_numbers += wrong.not_numbers
        self.fractions += wrong.fractions

    def add_cells(self, cells: Sequence[object]) -> None:
        """Count a piece of raw cells."""
        values, wrong = numeric_values(cells, self.baseline.inferred_type)
        self.add_numbers(values, rows=len(cells), wrong=wrong)

    def result(self, thresholds: Thresholds, role: str = "input") -> FeatureResult:
        """The feature's figures over everything counted."""
        baseline = self.baseline
        count = self.positions.count
        present = count + self.not_numbers
        rows = self.rows
        wrong = self.not_numbers + self.fractions
        result = _counts_result(
            baseline,
            role,
            count=count,
            present=present,
            rows=rows,
            type_violation_rate=wrong / present if present else 0.0,
        )
        if count == 0:
            return result
        ks = self.positions.ks_test()
        shares = self.bins / count
        result.ks_statistic, result.ks_p_value = ks.statistic, ks.p_value
        result.psi = psi(baseline.shares, shares)
        result.range_violation_rate = float(self.outside) / count
        limit = thresholds.prediction_psi if role == "prediction" else thresholds.psi
        result.drifted = result.psi >= limit or (
            role == "input" and ks.statistic >= thresholds.ks_statistic
        )
        if count < SMALL_SAMPLE:
            result.note = f"only {count} values: drift figures are unreliable"
        result.distribution = {
            "kind": "bins",
            "edges": [baseline.minimum, *baseline.edges.tolist(), baseline.maximum],
            "baseline": baseline.shares.tolist(),
            "current": shares.tolist(),
        }
        return result


class CategoryCounts:
    """One categorical feature's window, folded into counts piece by piece.

    The baseline's categories are counted one by one; unseen ones too up to
    ``max_unseen_categories`` distinct labels, then into one counter: the unseen rate and the JS
    distance stay exact, only the list of the most frequent unseen categories becomes
    approximate.
    """

    def __init__(self, baseline: CategoricalBaseline, limits: Limits | None = None) -> None:
        """Start counting a window of ``baseline``'s feature."""
        self.baseline = baseline
        self.limits = limits or Limits()
        self.known: dict[str, int] = {}
        self.unseen: dict[str, int] = {}
        self.unseen_total = 0
        self.rows = 0
        self.present = 0

    def add_cells(self, cells: Sequence[object]) -> None:
        """Count a piece of raw cells."""
        self.rows += len(cells)
        known, unseen = self.known, self.unseen
        for value in cells:
            if is_missing(value):
                continue
            self.present += 1
            label = category(value)
            if label in self.baseline.counts:
                known[label] = known.get(label, 0) + 1
                continue
            self.unseen_total += 1
            label = printable(label, self.limits.max_label_chars)
            if label in unseen:
                unseen[label] += 1
            elif len(unseen) < self.limits.max_unseen_categories:
                unseen[label] = 1

    def result(self, thresholds: Thresholds, role: str = "input") -> FeatureResult:
        """The feature's figures over everything counted."""
        baseline, rows, present = self.baseline, self.rows, self.present
        result = _counts_result(baseline, role, count=present, present=present, rows=rows)
        if not present:
            return result
        labels, expected, actual = shares_with_unseen(
            baseline.counts, self.known, self.unseen_total
        )
        result.unseen_categories = [
            label
            for label, _ in sorted(self.unseen.items(), key=lambda item: (-item[1], item[0]))[:20]
        ]
        result.unseen_rate = self.unseen_total / present
        result.js_distance = js_distance(expected, actual)
        limit = thresholds.prediction_psi if role == "prediction" else thresholds.js_distance
        result.drifted = result.js_distance >= limit
        if present < SMALL_SAMPLE:
            result.note = f"only {present} values: drift figures are unreliable"
        result.distribution = {
            "kind": "categories",
            "labels": labels,
            "baseline": expected.tolist(),
            "current": actual.tolist(),
        }
        return result


def compare_numeric(
    baseline: NumericBaseline,
    values: np.ndarray,
    *,
    rows: int,
    wrong: WrongTypes | None = None,
    thresholds: Thresholds,
    role: str = "input",
) -> FeatureResult:
    """Compare one numeric column (NaN where missing or not a number) with its baseline."""
    counts = NumericCounts(baseline)
    counts.add_numbers(values, rows=rows, wrong=wrong or WrongTypes())
    return counts.result(thresholds, role)


def compare_categorical(
    baseline: CategoricalBaseline,
    values: Sequence[object],
    *,
    thresholds: Thresholds,
    role: str = "input",
    limits: Limits | None = None,
) -> FeatureResult:
    """Compare one categorical column's raw cells with its baseline."""
    counts = CategoryCounts(baseline, limits)
    counts.add_cells(values)
    return counts.result(thresholds, role)


FeatureCounts = NumericCounts | CategoryCounts


def _counts(baseline: FeatureBaseline, limits: Limits) -> FeatureCounts:
    if isinstance(baseline, NumericBaseline):
        return NumericCounts(baseline)
    return CategoryCounts(baseline, limits)


class WindowAccumulator:
    """A window's requests, folded into every feature's counts a chunk of rows at a time.

    Rows and predictions are held as raw cells only until ``chunk_rows`` of them arrived; then
    each feature's cells are counted and the chunk is dropped.
    """

    def __init__(self, baseline: Baseline, limits: Limits | None = None) -> None:
        """Start an empty window against ``baseline``."""
        self.baseline = baseline
        self.limits = limits or Limits()
        self.features = [_counts(feature, self.limits) for feature in baseline.features]
        self.prediction = (
            _counts(baseline.prediction, self.limits) if baseline.prediction is not None else None
        )
        self.rows = 0
        self.predictions = 0
        self._rows: list[list[object]] = []
        self._predictions: list[object] = []

    def add(self, rows: list[list[object]], predictions: list[object]) -> None:
        """Take one request's rows and predictions (a :data:`~capture.RowSink`)."""
        self.rows += len(rows)
        self.predictions += len(predictions)
        self._rows.extend(rows)
        self._predictions.extend(predictions)
        if len(self._rows) >= self.limits.chunk_rows or (
            len(self._predictions) >= self.limits.chunk_rows
        ):
            self.flush()

    def flush(self) -> None:
        """Count the rows and predictions held and let them go."""
        chunk, self._rows = self._rows, []
        if chunk:
            for index, counts in enumerate(self.features):
                counts.add_cells([row[index] for row in chunk])
        predictions, self._predictions = self._predictions, []
        if predictions and self.prediction is not None:
            self.prediction.add_cells(predictions)

    def results(self, thresholds: Thresholds) -> tuple[list[FeatureResult], list[str]]:
        """Every input feature's figures, then the prediction's when compared, and notes."""
        self.flush()
        if not self.rows:
            return [], []
        features = [counts.result(thresholds) for counts in self.features]
        notes = []
        if self.prediction is None:
            notes.append("the baseline has no predictions: prediction drift is not checked")
        elif not self.predictions:
            notes.append("no predictions were captured: prediction drift is not checked")
        else:
            features.append(self.prediction.result(thresholds, role="prediction"))
        return features, notes


def compare_columns(
    baseline: Baseline,
    numeric: Mapping[str, np.ndarray],
    *,
    rows: int,
    thresholds: Thresholds | None = None,
    wrong_types: Mapping[str, WrongTypes] | None = None,
    workers: int | None = None,
) -> list[FeatureResult]:
    """Compare prepared numeric columns (float64, NaN missing) with their baselines, in parallel."""
    limits = thresholds or Thresholds()
    wrong = wrong_types or {}

    def one(name: str) -> FeatureResult:
        feature = baseline.feature(name)
        if not isinstance(feature, NumericBaseline):
            raise TypeError(f"feature '{name}' is categorical in the baseline")
        return compare_numeric(
            feature, numeric[name], rows=rows, wrong=wrong.get(name), thresholds=limits
        )

    names = list(numeric)
    threads = min(workers or os.cpu_count() or 1, len(names))
    if threads <= 1:
        return [one(name) for name in names]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, names))


@dataclass
class CheckResult:
    """A finished check: its figures, violations and what it read."""

    endpoint: str
    """The endpoint's full name (the metrics' Endpoint dimension)."""
    start: datetime | None
    """The window's start (inclusive)."""
    end: datetime | None
    """The window's end (exclusive)."""
    thresholds: Thresholds
    """The thresholds the check applied."""
    records: int
    """Rows checked."""
    capture_lines: int
    """Capture lines read."""
    malformed: int
    """Unreadable lines or payloads."""
    examples: list[dict[str, object]]
    """The first unreadable lines: file, line, reason."""
    features: list[FeatureResult]
    """Every input feature, then the prediction when compared."""
    violations: list[dict[str, str]]
    """constraint_violations.json's entries."""
    outside_window: int = 0
    """Invocations skipped for lying outside the window."""
    notes: list[str] = field(default_factory=list)
    """Things the reader should know (no predictions captured, ...)."""
    requests: int = 0
    """Capture lines read as requests inside the window (``requests + outside_window +
    malformed == capture_lines``)."""
    limits: Limits = field(default_factory=Limits)
    """The resource bounds the window was read and checked with."""

    @property
    def status(self) -> str:
        """``empty``, ``drift`` (an input or the prediction drifted), ``violations`` or ``ok``."""
        if self.records == 0:
            return "empty"
        if any(feature.drifted for feature in self.features):
            return "drift"
        return "violations" if self.violations else "ok"

    @property
    def message(self) -> str:
        """One line saying what the check found."""
        if self.records == 0:
            reason = (
                f"all {self.malformed} capture lines were malformed"
                if self.malformed and self.malformed == self.capture_lines
                else "no captured requests in this window"
            )
            return f"{reason}: nothing to compare"
        drifted = [f.name for f in self.features if f.drifted]
        parts = [f"{self.records} rows checked"]
        if drifted:
            parts.append(f"drift in {', '.join(drifted)}")
        if self.violations:
            parts.append(f"{len(self.violations)} violations")
        if self.malformed:
            parts.append(f"{self.malformed} malformed lines skipped")
        return "; ".join(parts)

    def summary(self) -> dict[str, object]:
        """summary.json."""
        return {
            "endpoint": self.endpoint,
            "window": {
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
            },
            "status": self.status,
            "message": self.message,
            "records": self.records,
            "capture_lines": self.capture_lines,
            "requests": self.requests,
            "outside_window": self.outside_window,
            "malformed": self.malformed,
            "malformed_examples": self.examples,
            "notes": self.notes,
            "thresholds": asdict(self.thresholds),
            "limits": self.limits.to_json(),
            "features": [_finite(asdict(feature)) for feature in self.features],
            "violations": self.violations,
        }

    def metrics(self, timestamp: datetime) -> dict[str, object]:
        """metrics.json: the figures CloudWatch gets, per endpoint and per feature."""
        endpoint = {"Endpoint": self.endpoint}
        entries: list[dict[str, object]] = []

        def add(name: str, value: float | None, unit: str = "None", **extra: str) -> None:
            if value is not None and math.isfinite(value):
                entries.append(
                    {
                        "name": name,
                        "dimensions": {**endpoint, **extra},
                        "value": float(value),
                        "unit": unit,
                    }
                )

        inputs = [f for f in self.features if f.role == "input"]
        add(contract.RECORDS_CHECKED, self.records, "Count")
        add(contract.MALFORMED_RECORDS, self.malformed, "Count")
        add(contract.CHECKS_COMPLETED, 1, "Count")
        add(contract.CONSTRAINT_VIOLATIONS, len(self.violations), "Count")
        if self.records:
            add(contract.FEATURES_DRIFTED, sum(f.drifted for f in inputs), "Count")
            for name, values in (
                (contract.MAX_PSI, [f.psi for f in inputs]),
                (contract.MAX_JS_DISTANCE, [f.js_distance for f in inputs]),
                (contract.MAX_MISSING_RATE, [f.missing_rate for f in inputs]),
            ):
                present = [v for v in values if v is not None and math.isfinite(v)]
                if present:
                    add(name, max(present))
        for feature in self.features:
            if feature.role == "prediction":
                add(
                    contract.PREDICTION_PSI,
                    feature.psi if feature.kind == "numeric" else feature.js_distance,
                )
                add(contract.PREDICTION_KS, feature.ks_statistic)
                continue
            dims = {"Feature": feature.name}
            add(contract.KS_STATISTIC, feature.ks_statistic, **dims)
            add(contract.KS_P_VALUE, feature.ks_p_value, **dims)
            add(contract.PSI, feature.psi, **dims)
            add(contract.JS_DISTANCE, feature.js_distance, **dims)
            add(contract.MISSING_RATE, feature.missing_rate, **dims)
            add(contract.TYPE_VIOLATION_RATE, feature.type_violation_rate, **dims)
            add(contract.RANGE_VIOLATION_RATE, feature.range_violation_rate, **dims)
        return {
            "namespace": contract.METRIC_NAMESPACE,
            "timestamp": timestamp.isoformat(),
            "metrics": entries,
        }


def _finite(document: dict[str, object]) -> dict[str, object]:
    """``document`` with non-finite floats as None (JSON has no NaN)."""
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in document.items()
    }


def check_capture(
    baseline: Baseline,
    capture: CaptureData,
    *,
    endpoint: str,
    start: datetime | None = None,
    end: datetime | None = None,
    thresholds: Thresholds | None = None,
    limits: Limits | None = None,
) -> CheckResult:
    """Check the rows and predictions kept in ``capture`` (read by ``read_capture``)."""
    bounds = limits or capture.limits
    window = WindowAccumulator(baseline, bounds)
    step = bounds.chunk_rows
    for first in range(0, max(len(capture.rows), len(capture.predictions)), step):
        window.add(capture.rows[first : first + step], capture.predictions[first : first + step])
    return _finish(window, capture, endpoint, start, end, thresholds or Thresholds())


def check_window(
    baseline: Baseline,
    files: Iterable[Path],
    *,
    endpoint: str,
    start: datetime | None = None,
    end: datetime | None = None,
    root: Path | None = None,
    thresholds: Thresholds | None = None,
    limits: Limits | None = None,
) -> CheckResult:
    """Read capture ``files`` for [start, end) and check them, streaming.

    Each request is folded into counts as it is read (:class:`WindowAccumulator`), so memory
    holds the baseline, one line and one chunk of rows, whatever the window's size. Nothing a
    capture line holds raises: unreadable lines are counted as malformed.
    """
    bounds = limits or Limits()
    window = WindowAccumulator(baseline, bounds)
    capture = scan_capture(
        files, baseline.names, window.add, start=start, end=end, root=root, limits=bounds
    )
    return _finish(window, capture, endpoint, start, end, thresholds or Thresholds())


def _finish(
    window: WindowAccumulator,
    capture: CaptureData,
    endpoint: str,
    start: datetime | None,
    end: datetime | None,
    limits: Thresholds,
) -> CheckResult:
    features, notes = window.results(limits)
    violations = (
        _violations(window.baseline, features, window.rows, capture, limits) if window.rows else []
    )
    return CheckResult(
        endpoint=endpoint,
        start=start,
        end=end,
        thresholds=limits,
        records=window.rows,
        capture_lines=capture.capture_lines,
        malformed=capture.malformed,
        examples=[asdict(example) for example in capture.examples],
        features=features,
        violations=violations,
        outside_window=capture.outside_window,
        notes=notes,
        requests=capture.requests,
        limits=window.limits,
    )


def _violations(
    baseline: Baseline,
    features: list[FeatureResult],
    rows: int,
    capture: CaptureData,
    limits: Thresholds,
) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []

    def add(name: str, check: str, description: str) -> None:
        found.append(
            {"feature_name": name, "constraint_check_type": check, "description": description}
        )

    for result in features:
        if result.count == 0 and result.role == "input" and result.type_violation_rate == 0:
            add(
                result.name,
                "missing_column_check",
                f"no value of '{result.name}' in {rows} rows",
            )
            continue
        if result.drifted:
            if result.kind == "numeric":
                limit = limits.prediction_psi if result.role == "prediction" else limits.psi
                add(
                    result.name,
                    "baseline_drift_check",
                    f"PSI {result.psi:.4f} (threshold {limit}), KS {result.ks_statistic:.4f} "
                    + (
                        f"(threshold {limits.ks_statistic}, p={result.ks_p_value:.3g})"
                        if result.role == "input"
                        else f"(p={result.ks_p_value:.3g})"
                    ),
                )
            else:
                limit = limits.prediction_psi if result.role == "prediction" else limits.js_distance
                add(
                    result.name,
                    "baseline_drift_check",
                    f"Jensen-Shannon distance {result.js_distance:.4f} (threshold {limit})",
                )
        if result.role != "input":
            continue
        allowed = result.baseline_missing_rate + limits.missing_rate_increase
        if result.missing_rate > allowed:
            add(
                result.name,
                "completeness_check",
                f"missing rate {result.missing_rate:.4f} above the baseline's "
                f"{result.baseline_missing_rate:.4f} + {limits.missing_rate_increase}",
            )
        if result.type_violation_rate > limits.type_violation_rate:
            expected = baseline.feature(result.name).inferred_type
            add(
                result.name,
                "data_type_check",
                f"{result.type_violation_rate:.4f} of values are not {expected} "
                f"(threshold {limits.type_violation_rate})",
            )
        if (result.range_violation_rate or 0.0) > limits.range_violation_rate:
            feature = baseline.feature(result.name)
            assert isinstance(feature, NumericBaseline)
            add(
                result.name,
                "range_check",
                f"{result.range_violation_rate:.4f} of values outside the baseline's range "
                f"[{feature.minimum:g}, {feature.maximum:g}] "
                f"(threshold {limits.range_violation_rate})",
            )
        if result.unseen_rate > limits.range_violation_rate:
            add(
                result.name,
                "categorical_values_check",
                f"{result.unseen_rate:.4f} of values in categories the baseline never saw "
                f"({', '.join(result.unseen_categories[:5]) or UNSEEN})",
            )
    if not capture.extra_untracked:
        for key, count in sorted(capture.extra_columns.items()):
            add(
                key,
                "extra_column_check",
                f"{count} rows carry '{key}', which no baseline feature is",
            )
    else:
        # Past the bound one violation sums them up: a window of requests with thousands of
        # distinct keys must not turn into thousands of violations (and megabytes of files).
        keys = sorted(capture.extra_columns)
        total = sum(capture.extra_columns.values()) + capture.extra_untracked
        shown = ", ".join(f"'{key}'" for key in keys)
        add(
            UNKNOWN_KEYS,
            "extra_column_check",
            f"rows carry more than {len(keys)} distinct keys that no baseline feature is "
            f"({total} occurrences in all); the first {len(keys)} seen, sorted: {shown}",
        )
    return found
