"""Baselines: profiling a table and the files in Model Monitor's shapes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.workloads.monitoring.samples import sample_baseline, training_table
from workloads.monitoring.baseline import (
    CategoricalBaseline,
    NumericBaseline,
    build_baseline,
    infer_type,
    load_baseline,
    numeric_baseline,
    write_baseline,
)
from workloads.monitoring.baseline_files import BaselineError, baseline_features, baseline_problems


def test_types_are_inferred_as_model_monitor_names_them() -> None:
    # given / when / then
    assert infer_type(["1", "2", None]) == "Integral"
    assert infer_type([1.5, 2]) == "Fractional"
    assert infer_type(["1.0", "2"]) == "Fractional"
    assert infer_type(["a", 1]) == "String"
    assert infer_type([None, ""]) == "Unknown"


def test_a_baseline_profiles_each_column_in_order() -> None:
    # given the sample training table
    # when
    baseline = sample_baseline()
    # then: the label is excluded and the score is the prediction's baseline
    assert baseline.names == ["amount", "items", "channel"]
    amount, items, channel = baseline.features
    assert isinstance(amount, NumericBaseline) and amount.inferred_type == "Fractional"
    assert amount.missing_rate == pytest.approx(0.02)
    assert np.all(np.diff(amount.values) >= 0) and not np.isnan(amount.values).any()
    assert isinstance(items, NumericBaseline) and items.inferred_type == "Integral"
    assert isinstance(channel, CategoricalBaseline)
    assert list(channel.counts) == ["web", "app", "store"]
    assert baseline.prediction is not None and baseline.prediction.name == "prediction"


def test_psi_bins_are_the_deciles_of_every_present_value() -> None:
    # given a column of 1..1000
    # when
    feature = numeric_baseline("x", np.arange(1.0, 1001.0))
    # then: nine inner edges, a tenth of the values in each bin
    assert feature.edges.shape == (9,)
    assert feature.shares.tolist() == pytest.approx([0.1] * 10)


def test_the_sample_is_capped_but_counts_use_every_row() -> None:
    # given more values than the sample keeps
    values = np.random.default_rng(0).normal(size=10_000)
    # when
    feature = numeric_baseline("x", values, max_sample=1_000)
    # then
    assert feature.values.shape == (1_000,)
    assert feature.rows == 10_000 and feature.missing == 0
    assert feature.minimum == values.min() and feature.maximum == values.max()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exclude": ["nope"]}, "no column named 'nope'"),
        ({"prediction": "missing"}, "no column named 'missing'"),
        ({"exclude": ["amount", "items", "channel", "label", "score"]}, "no input feature"),
    ],
)
def test_bad_baseline_requests_name_the_problem(kwargs: dict[str, object], message: str) -> None:
    # given / when / then
    with pytest.raises(BaselineError, match=message):
        build_baseline(training_table(100), **kwargs)  # type: ignore[arg-type]


def test_a_column_without_any_value_is_refused() -> None:
    # given / when / then
    with pytest.raises(BaselineError, match="column 'empty' has no present value"):
        build_baseline({"x": [1, 2], "empty": [None, ""]})


def test_columns_of_unequal_length_are_refused() -> None:
    # given / when / then
    with pytest.raises(BaselineError, match="different lengths"):
        build_baseline({"x": [1, 2], "y": [1]})


def test_the_files_have_model_monitors_shape(tmp_path: Path) -> None:
    # given
    write_baseline(sample_baseline(), tmp_path)
    # when
    statistics = json.loads((tmp_path / "statistics.json").read_text())
    constraints = json.loads((tmp_path / "constraints.json").read_text())
    # then: statistics.json
    assert statistics["version"] == 0
    assert statistics["dataset"] == {"item_count": 5_000}
    amount = statistics["features"][0]
    assert amount["name"] == "amount" and amount["inferred_type"] == "Fractional"
    numbers = amount["numerical_statistics"]
    assert numbers["common"] == {"num_present": 4_900, "num_missing": 100}
    assert set(numbers) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    kll = numbers["distribution"]["kll"]
    assert len(kll["buckets"]) == 10
    assert sum(bucket["count"] for bucket in kll["buckets"]) == 4_900
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048}
    channel = statistics["features"][2]["string_statistics"]
    assert channel["distinct_count"] == 3
    assert [b["value"] for b in channel["distribution"]["categorical"]["buckets"]] == [
        "web",
        "app",
        "store",
    ]
    # and constraints.json
    assert [f["name"] for f in constraints["features"]] == ["amount", "items", "channel"]
    assert constraints["features"][0]["completeness"] == pytest.approx(0.98)
    assert constraints["features"][0]["num_constraints"] == {"is_non_negative": True}
    assert constraints["features"][2]["string_constraints"] == {"domains": ["web", "app", "store"]}
    assert constraints["monitoring_config"]["evaluate_constraints"] == "Enabled"
    # and the prediction is not a Model Monitor feature (its job reads the inputs only)
    assert "prediction" not in [f["name"] for f in statistics["features"]]


def test_a_written_baseline_loads_back_the_same(tmp_path: Path) -> None:
    # given
    baseline = sample_baseline()
    write_baseline(baseline, tmp_path)
    # when
    loaded = load_baseline(tmp_path)
    # then
    assert loaded.names == baseline.names
    for before, after in zip(baseline.features, loaded.features, strict=True):
        assert type(before) is type(after)
        if isinstance(before, NumericBaseline):
            assert isinstance(after, NumericBaseline)
            assert np.array_equal(before.values, after.values)
            assert np.array_equal(before.edges, after.edges)
            assert before.minimum == after.minimum and before.missing == after.missing
        else:
            assert isinstance(after, CategoricalBaseline)
            assert before.counts == after.counts
    assert loaded.prediction is not None and loaded.prediction.kind == "numeric"
    assert [f.name for f in baseline_features(tmp_path)] == ["amount", "items", "channel"]


def test_a_folder_missing_a_file_is_reported(tmp_path: Path) -> None:
    # given a baseline without its sample
    write_baseline(sample_baseline(100), tmp_path)
    (tmp_path / "baseline.npz").unlink()
    # when / then
    assert baseline_problems(tmp_path) == [
        "missing baseline.npz (create them with `ml-platform-monitor baseline`)"
    ]
    with pytest.raises(BaselineError, match=r"missing baseline\.npz"):
        load_baseline(tmp_path)


def test_files_from_different_baselines_are_refused(tmp_path: Path) -> None:
    # given constraints.json and statistics.json of one table and the sample of another
    write_baseline(sample_baseline(100), tmp_path)
    other = tmp_path / "other"
    write_baseline(build_baseline({"x": [1.0, 2.0]}), other)
    (other / "baseline.npz").replace(tmp_path / "baseline.npz")
    # when / then
    with pytest.raises(BaselineError, match="different baselines"):
        load_baseline(tmp_path)


def test_a_corrupt_sample_is_reported_not_raised_raw(tmp_path: Path) -> None:
    # given
    write_baseline(sample_baseline(100), tmp_path)
    (tmp_path / "baseline.npz").write_bytes(b"not a zip")
    # when / then
    with pytest.raises(BaselineError, match=r"baseline\.npz cannot be read"):
        load_baseline(tmp_path)


def test_constraints_that_are_not_json_are_reported(tmp_path: Path) -> None:
    # given
    write_baseline(sample_baseline(100), tmp_path)
    (tmp_path / "constraints.json").write_text("{")
    # when / then
    assert baseline_problems(tmp_path)[0].startswith("constraints.json is not valid JSON")


def test_the_committed_example_baselines_load() -> None:
    # given the baselines the stack files monitor
    root = Path(__file__).resolve().parents[3] / "baselines"
    for name in ("churn", "fraud"):
        # when / then
        baseline = load_baseline(root / name)
        assert baseline.prediction is not None
        assert len(baseline.features) == 5
