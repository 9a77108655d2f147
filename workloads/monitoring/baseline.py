"""Baselines: what a model's training data looked like, prepared once for every later check.

:func:`build_baseline` profiles a table (columns by name, in the order the endpoint receives
them): each column's type (Integral, Fractional or String, as Model Monitor infers them), its
missing rate, and either its present values sorted (numbers) or its category counts (strings).
:func:`write_baseline` writes the three files of :mod:`workloads.monitoring.contract`;
:func:`load_baseline` reads them back for a check.

The predictions the model made on the same data, when given, are kept as the baseline of
prediction drift. :func:`model_columns` makes them with the model itself, through the inference
server's own prediction function in the model's default output, so the baseline's predictions
are what the endpoint answers for those rows (a column of scores in a table may disagree). They
live in ``baseline.npz`` only: Model Monitor's data-quality job reads the endpoint's inputs, and
a ``prediction`` feature in its files would be reported as a missing column.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workloads.monitoring.baseline_files import BaselineError, baseline_problems
from workloads.monitoring.contract import (
    CONSTRAINTS_FILE,
    PREDICTION_FEATURE,
    SAMPLE_FILE,
    STATISTICS_FILE,
)
from workloads.monitoring.statistics import bin_shares, psi_edges, sorted_present

#: The most present values a numeric feature's prepared sample keeps (a uniform random subset
#: above that, drawn with a fixed seed); missing rates and counts always use every row.
DEFAULT_MAX_SAMPLE = 1_000_000

#: Categorical features with at most this many categories list them as Model Monitor's domain.
MAX_DOMAIN = 1_000

#: Equal-width buckets of the histogram in statistics.json.
HISTOGRAM_BUCKETS = 10

#: Model Monitor's KLL sketch parameters (its statistics.json carries them).
KLL_K, KLL_C = 2048, 0.64

_FORMAT_VERSION = 1


def is_missing(value: object) -> bool:
    """Whether a cell counts as missing: None, an empty string, or a float NaN."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    return isinstance(value, float) and math.isnan(value)


def as_number(value: object) -> float | None:
    """``value`` as a float, or None when it is not a number (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        try:
            number = float(value)
        except OverflowError:
            # An int past float64's range (a 400-digit JSON number): not a usable number.
            return None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class NumericBaseline:
    """A numeric feature's baseline."""

    name: str
    """The feature's name."""
    inferred_type: str
    """Integral or Fractional."""
    rows: int
    """Rows profiled."""
    missing: int
    """Rows where the feature was missing."""
    values: np.ndarray = field(repr=False)
    """The present values, sorted (float64); at most the sample size."""
    edges: np.ndarray = field(repr=False)
    """PSI's inner bin edges (the deciles of every present value)."""
    shares: np.ndarray = field(repr=False)
    """The share of present values in each PSI bin."""
    minimum: float
    """The smallest present value (nan when none is)."""
    maximum: float
    """The largest present value (nan when none is)."""
    mean: float
    """Mean of the present values."""
    std_dev: float
    """Standard deviation of the present values."""
    total: float
    """Sum of the present values."""

    kind = "numeric"

    @property
    def missing_rate(self) -> float:
        """Share of rows where the feature was missing."""
        return self.missing / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class CategoricalBaseline:
    """A categorical (String) feature's baseline."""

    name: str
    """The feature's name."""
    rows: int
    """Rows profiled."""
    missing: int
    """Rows where the feature was missing."""
    counts: dict[str, int]
    """Rows per category, most frequent first."""

    kind = "categorical"
    inferred_type = "String"

    @property
    def missing_rate(self) -> float:
        """Share of rows where the feature was missing."""
        return self.missing / self.rows if self.rows else 0.0


FeatureBaseline = NumericBaseline | CategoricalBaseline


@dataclass(frozen=True)
class Baseline:
    """Every feature's baseline, in the endpoint's column order, and the predictions' if known."""

    features: tuple[FeatureBaseline, ...]
    """The input features, in the order a CSV request lists them."""
    prediction: FeatureBaseline | None = None
    """The model's predictions on the baseline data (prediction drift), if given."""

    @property
    def names(self) -> list[str]:
        """The input features' names, in order."""
        return [feature.name for feature in self.features]

    def feature(self, name: str) -> FeatureBaseline:
        """The baseline of the input feature ``name``."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)


def infer_type(values: Iterable[object]) -> str:
    """Model Monitor's inferred type of a column: Integral, Fractional, String or Unknown."""
    seen_number = seen_fraction = False
    for value in values:
        if is_missing(value):
            continue
        number = as_number(value)
        if number is None:
            return "String"
        seen_number = True
        if not number.is_integer() or (isinstance(value, str) and "." in value):
            seen_fraction = True
    if not seen_number:
        return "Unknown"
    return "Fractional" if seen_fraction else "Integral"


def numeric_column(values: Sequence[object] | np.ndarray) -> np.ndarray:
    """A column as float64 with NaN where a value is missing or not a number."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype(np.float64, copy=False)
    return numeric_values(values, "Fractional")[0]


@dataclass(frozen=True)
class WrongTypes:
    """How many of a column's present cells had the wrong type."""

    not_numbers: int = 0
    """Cells that are not numbers: left out of the figures (NaN in the column)."""
    fractions: int = 0
    """Fractional numbers in an Integral feature: wrong, but still compared."""

    @property
    def total(self) -> int:
        """Every cell of the wrong type."""
        return self.not_numbers + self.fractions


def numeric_values(values: Sequence[object], inferred_type: str) -> tuple[np.ndarray, WrongTypes]:
    """Raw cells as float64 (NaN where missing or not a number) and the cells of a wrong type.

    Cells that are not numbers are type violations and are left out of the figures; for an
    Integral feature, fractional numbers are type violations too but still compared.
    """
    column = np.empty(len(values), dtype=np.float64)
    not_numbers = fractions = 0
    integral = inferred_type == "Integral"
    for index, value in enumerate(values):
        if is_missing(value):
            column[index] = np.nan
            continue
        number = as_number(value)
        if number is None:
            not_numbers += 1
            column[index] = np.nan
            continue
        if integral and not number.is_integer():
            fractions += 1
        column[index] = number
    return column, WrongTypes(not_numbers, fractions)


def numeric_baseline(
    name: str,
    values: np.ndarray,
    *,
    inferred_type: str = "Fractional",
    max_sample: int = DEFAULT_MAX_SAMPLE,
    seed: int = 0,
) -> NumericBaseline:
    """Profile one numeric column (NaN marks a missing value)."""
    values = np.asarray(values, dtype=np.float64)
    present = sorted_present(values)
    edges = psi_edges(present)
    shares = bin_shares(present, edges)
    sample = present
    if present.shape[0] > max_sample:
        chosen = np.random.default_rng(seed).choice(present.shape[0], max_sample, replace=False)
        sample = present[np.sort(chosen)]
    count = present.shape[0]
    return NumericBaseline(
        name=name,
        inferred_type=inferred_type,
        rows=values.shape[0],
        missing=values.shape[0] - count,
        values=sample,
        edges=edges,
        shares=shares,
        minimum=float(present[0]) if count else math.nan,
        maximum=float(present[-1]) if count else math.nan,
        mean=float(present.mean()) if count else math.nan,
        std_dev=float(present.std()) if count else math.nan,
        total=float(present.sum()),
    )


def categorical_baseline(name: str, values: Sequence[object]) -> CategoricalBaseline:
    """Profile one categorical column (values become strings; missing ones are counted)."""
    present = [category(value) for value in values if not is_missing(value)]
    counts = dict(sorted(Counter(present).items(), key=lambda item: (-item[1], item[0])))
    return CategoricalBaseline(
        name=name, rows=len(values), missing=len(values) - len(present), counts=counts
    )


def category(value: object) -> str:
    """A categorical value as the string it is compared as (``1``, ``1.0`` and ``"1"`` agree)."""
    number = as_number(value)
    if number is not None and number.is_integer():
        return str(int(number))
    return str(value).strip() if isinstance(value, str) else str(value)


def model_columns(
    columns: Mapping[str, Sequence[object] | np.ndarray], model_dir: Path
) -> dict[str, Sequence[object] | np.ndarray]:
    """The model's features of ``columns``, in its order, and its predictions on those rows.

    The predictions (under :data:`PREDICTION_FEATURE`) are
    ``workloads.inference.handlers.predict_output`` in the model's ``default_output``: what the
    endpoint answers. Other columns (the label, identifiers) are left out.

    Raises:
        BaselineError: a feature missing from the data, a value the endpoint would refuse (missing
            or not a number in a numeric feature), or an output of more than one value a row.
            A categorical (text) feature takes its cells as they are, as the endpoint does.

    """
    # Imported here: the monitor's processing jobs ship without the inference code.
    from workloads.inference.handlers import predict_output
    from workloads.model_layout import METADATA_FILE, ModelLayoutError, load_model

    try:
        model = load_model(model_dir)
    except ModelLayoutError as error:
        raise BaselineError(str(error)) from None
    names = model.metadata.feature_names
    if missing := [name for name in names if name not in columns]:
        raise BaselineError(
            f"no column named {', '.join(map(repr, missing))} in the data (the model's "
            f"features, {model_dir / METADATA_FILE})"
        )
    text = {spec["name"] for spec in model.metadata.feature_types if spec["type"] != "numeric"}
    # Object rows when some feature is text: the model encodes them as it encodes a request's.
    matrix = np.empty((len(columns[names[0]]), len(names)), dtype=object if text else np.float64)
    for index, name in enumerate(names):
        if name in text:
            matrix[:, index] = [None if is_missing(value) else value for value in columns[name]]
            continue
        for row, value in enumerate(columns[name]):
            number = as_number(value)
            if number is None:
                raise BaselineError(
                    f"column {name!r}, row {row + 1}: missing or not a number; the endpoint "
                    "refuses such a row, so a baseline made with the model cannot hold it"
                )
            matrix[row, index] = number
    output = model.metadata.default_output
    predictions = predict_output(model, matrix, output)
    if predictions.ndim != 1:
        raise BaselineError(
            f"the model's default output ({output}) has {predictions.shape[1]} values a row; "
            "prediction drift compares one value a row (use a label default_output)"
        )
    # As the server encodes them: Python scalars (labels as they are, floats exactly).
    return {**{name: columns[name] for name in names}, PREDICTION_FEATURE: predictions.tolist()}


def build_baseline(
    columns: Mapping[str, Sequence[object] | np.ndarray],
    *,
    categorical: Iterable[str] = (),
    prediction: str | None = None,
    exclude: Iterable[str] = (),
    max_sample: int = DEFAULT_MAX_SAMPLE,
    workers: int | None = None,
) -> Baseline:
    """Profile ``columns`` (name to values, in the endpoint's order), columns in parallel.

    Args:
        columns: the training table; every column must have the same length.
        categorical: columns to compare as categories even though they hold numbers.
        prediction: the column holding the model's predictions on these rows, if any.
        exclude: columns the endpoint does not receive (the label, identifiers).
        max_sample: the most present values a numeric feature's sample keeps.
        workers: threads profiling columns (default: one per core; numpy sorts without the GIL).

    Raises:
        BaselineError: naming the columns that are unknown, of unequal length, or unusable.

    """
    forced = set(categorical)
    skipped = set(exclude)
    known = set(columns)
    unknown = sorted((forced | skipped | ({prediction} if prediction else set())) - known)
    if unknown:
        raise BaselineError(f"no column named {', '.join(map(repr, unknown))} in the data")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise BaselineError(f"columns have different lengths: {lengths}")
    if not columns or not next(iter(lengths.values())):
        raise BaselineError("the data has no rows")
    if prediction != PREDICTION_FEATURE and PREDICTION_FEATURE in known - skipped:
        raise BaselineError(
            f"'{PREDICTION_FEATURE}' names the endpoint's output: pass it as the prediction "
            "column or exclude it"
        )
    inputs = [name for name in columns if name not in skipped and name != prediction]
    if not inputs:
        raise BaselineError("no input feature is left after the exclusions")
    jobs = [(name, columns[name], name in forced) for name in inputs]
    if prediction is not None:
        jobs.append((PREDICTION_FEATURE, columns[prediction], prediction in forced))

    def profile(job: tuple[str, Sequence[object] | np.ndarray, bool]) -> FeatureBaseline:
        return _profile(*job, max_sample)

    threads = min(workers or os.cpu_count() or 1, len(jobs))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            profiled = list(pool.map(profile, jobs))
    else:
        profiled = [profile(job) for job in jobs]
    predicted = profiled.pop() if prediction is not None else None
    return Baseline(features=tuple(profiled), prediction=predicted)


def _profile(
    name: str, values: Sequence[object] | np.ndarray, forced: bool, max_sample: int
) -> FeatureBaseline:
    if isinstance(values, np.ndarray) and values.dtype.kind == "f" and not forced:
        # pandas reads 1e400 or "inf" as an infinite float; like the check (as_number), the
        # baseline takes no infinity as a number: it would poison every figure and statistics.json.
        values = np.where(np.isinf(values), np.nan, values)
        present = values[~np.isnan(values)]
        inferred = "Fractional" if not np.all(np.mod(present, 1) == 0) else "Integral"
        if present.size == 0:
            inferred = "Unknown"
    elif isinstance(values, np.ndarray) and values.dtype.kind in "iu" and not forced:
        inferred = "Integral"
    else:
        inferred = "String" if forced else infer_type(values)
    if inferred == "Unknown":
        raise BaselineError(f"column '{name}' has no present value: nothing to compare with")
    if inferred == "String":
        return categorical_baseline(name, values)
    return numeric_baseline(
        name, numeric_column(values), inferred_type=inferred, max_sample=max_sample
    )


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def statistics_document(baseline: Baseline) -> dict[str, object]:
    """statistics.json in Model Monitor's shape (the input features only)."""
    features = []
    for feature in baseline.features:
        common = {"num_present": feature.rows - feature.missing, "num_missing": feature.missing}
        if isinstance(feature, NumericBaseline):
            features.append(
                {
                    "name": feature.name,
                    "inferred_type": feature.inferred_type,
                    "numerical_statistics": {
                        "common": common,
                        "mean": feature.mean,
                        "sum": feature.total,
                        "std_dev": feature.std_dev,
                        "min": feature.minimum,
                        "max": feature.maximum,
                        "distribution": {"kll": _kll(feature.values)},
                    },
                }
            )
        else:
            features.append(
                {
                    "name": feature.name,
                    "inferred_type": "String",
                    "string_statistics": {
                        "common": common,
                        "distinct_count": len(feature.counts),
                        "distribution": {
                            "categorical": {
                                "buckets": [
                                    {"value": value, "count": count}
                                    for value, count in feature.counts.items()
                                ]
                            }
                        },
                    },
                }
            )
    rows = baseline.features[0].rows
    return {"version": 0, "dataset": {"item_count": rows}, "features": features}


def _kll(values: np.ndarray) -> dict[str, object]:
    """Equal-width buckets and a KLL sketch of sorted ``values`` in Model Monitor's layout.

    The sketch is built directly from the sorted sample: one compactor level whose items each
    stand for ``2**level`` values, ``level`` the smallest that fits the sketch size, every
    ``2**level``-th value taken from the middle of its run (what KLL's compactions converge to
    for sorted input).
    """
    if values.shape[0] == 0:
        return {"buckets": [], "sketch": {"parameters": {"c": KLL_C, "k": KLL_K}, "data": []}}
    low, high = float(values[0]), float(values[-1])
    edges = np.linspace(low, high, HISTOGRAM_BUCKETS + 1)
    cuts = np.searchsorted(values, edges[1:-1], side="left")
    counts = np.diff(np.concatenate(([0], cuts, [values.shape[0]])))
    buckets = [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": int(count)}
        for i, count in enumerate(counts)
    ]
    level = max(0, math.ceil(math.log2(values.shape[0] / KLL_K))) if values.shape[0] else 0
    step = 2**level
    items = values[step // 2 :: step] if step > 1 else values
    data: list[list[float]] = [[] for _ in range(level)] + [[float(v) for v in items]]
    return {"buckets": buckets, "sketch": {"parameters": {"c": KLL_C, "k": KLL_K}, "data": data}}


def constraints_document(baseline: Baseline) -> dict[str, object]:
    """constraints.json in Model Monitor's shape (the input features only)."""
    features: list[dict[str, object]] = []
    for feature in baseline.features:
        entry: dict[str, object] = {
            "name": feature.name,
            "inferred_type": feature.inferred_type,
            "completeness": 1.0 - feature.missing_rate,
        }
        if isinstance(feature, NumericBaseline):
            entry["num_constraints"] = {"is_non_negative": bool(feature.minimum >= 0)}
        elif len(feature.counts) <= MAX_DOMAIN:
            entry["string_constraints"] = {"domains": list(feature.counts)}
        features.append(entry)
    return {
        "version": 0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": 0.1,
                "comparison_method": "Robust",
            },
        },
    }


def write_baseline(baseline: Baseline, folder: Path) -> list[Path]:
    """Write statistics.json, constraints.json and baseline.npz into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in (
        (STATISTICS_FILE, statistics_document(baseline)),
        (CONSTRAINTS_FILE, constraints_document(baseline)),
    ):
        path = folder / name
        path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        written.append(path)
    arrays: dict[str, np.ndarray] = {}
    meta: list[dict[str, object]] = []
    entries = [*baseline.features, *([baseline.prediction] if baseline.prediction else [])]
    for index, feature in enumerate(entries):
        described: dict[str, object] = {
            "name": feature.name,
            "kind": feature.kind,
            "inferred_type": feature.inferred_type,
            "rows": feature.rows,
            "missing": feature.missing,
        }
        if isinstance(feature, NumericBaseline):
            key = f"values_{index}"
            arrays[key] = feature.values
            described.update(
                values=key,
                edges=feature.edges.tolist(),
                shares=feature.shares.tolist(),
                minimum=feature.minimum,
                maximum=feature.maximum,
                mean=feature.mean,
                std_dev=feature.std_dev,
                total=feature.total,
            )
        else:
            described["counts"] = feature.counts
        meta.append(described)
    document = {
        "format": _FORMAT_VERSION,
        "features": meta[: len(baseline.features)],
        "prediction": meta[-1] if baseline.prediction else None,
    }
    arrays["meta"] = np.frombuffer(json.dumps(document).encode("utf-8"), dtype=np.uint8)
    path = folder / SAMPLE_FILE
    with path.open("wb") as handle:
        np.savez(handle, **arrays)
    written.append(path)
    return written


def load_baseline(folder: Path) -> Baseline:
    """Read the baseline written by :func:`write_baseline` from ``folder``.

    Raises:
        BaselineError: naming the folder and what is wrong with its files.

    """
    problems = baseline_problems(folder)
    if problems:
        raise BaselineError(f"baseline {folder}: " + "; ".join(problems))
    try:
        # Our own handle: np.load leaves the file it opened open when the zip is damaged.
        with (
            (folder / SAMPLE_FILE).open("rb") as handle,
            np.load(handle, allow_pickle=False) as archive,
        ):
            document = json.loads(bytes(archive["meta"]).decode("utf-8"))
            if document.get("format") != _FORMAT_VERSION:
                raise BaselineError(
                    f"baseline {folder}: {SAMPLE_FILE} has format {document.get('format')!r}, "
                    f"this monitor reads format {_FORMAT_VERSION}: rebuild the baseline"
                )
            features = tuple(_restore(entry, archive) for entry in document["features"])
            prediction = document.get("prediction")
            restored = _restore(prediction, archive) if prediction else None
    except BaselineError:
        raise
    except (
        OSError,
        EOFError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        OverflowError,
        RecursionError,
        zipfile.BadZipFile,
    ) as error:
        # A damaged or hand-edited baseline.npz: a truncated zip (BadZipFile, EOFError), a meta
        # document of the wrong shape (KeyError, TypeError, AttributeError), a count of 1e400
        # (OverflowError). Each is a bad file, not a bug: one line naming it.
        reason = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        raise BaselineError(f"baseline {folder}: {SAMPLE_FILE} cannot be read: {reason}") from None
    constraints = json.loads((folder / CONSTRAINTS_FILE).read_text(encoding="utf-8"))
    listed = [entry["name"] for entry in constraints["features"]]
    names = [feature.name for feature in features]
    if listed != names:
        raise BaselineError(
            f"baseline {folder}: {CONSTRAINTS_FILE} lists {listed} but {SAMPLE_FILE} holds "
            f"{names}: the files come from different baselines"
        )
    return Baseline(features=features, prediction=restored)


def _restore(entry: dict[str, object], archive: Mapping[str, np.ndarray]) -> FeatureBaseline:
    if entry["kind"] == "categorical":
        return CategoricalBaseline(
            name=str(entry["name"]),
            rows=int(entry["rows"]),  # type: ignore[arg-type]
            missing=int(entry["missing"]),  # type: ignore[arg-type]
            counts={str(k): int(v) for k, v in dict(entry["counts"]).items()},  # type: ignore[call-overload]
        )
    name = str(entry["name"])
    values = np.asarray(archive[str(entry["values"])], dtype=np.float64)
    edges = np.asarray(entry["edges"], dtype=np.float64)
    shares = np.asarray(entry["shares"], dtype=np.float64)
    # The check trusts these shapes (binary search needs a sorted sample, PSI one share per
    # bin): a file that breaks them is refused here rather than giving wrong figures later.
    if values.ndim != 1 or values.shape[0] == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"feature '{name}': the sample is not a non-empty list of numbers")
    if np.any(values[1:] < values[:-1]):
        raise ValueError(f"feature '{name}': the sample is not sorted")
    if edges.ndim != 1 or shares.shape != (edges.shape[0] + 1,):
        raise ValueError(f"feature '{name}': {edges.shape} edges but {shares.shape} shares")
    if not (np.all(np.isfinite(edges)) and np.all(np.isfinite(shares))):
        raise ValueError(f"feature '{name}': edges or shares that are not finite numbers")
    return NumericBaseline(
        name=name,
        inferred_type=str(entry["inferred_type"]),
        rows=int(entry["rows"]),  # type: ignore[arg-type]
        missing=int(entry["missing"]),  # type: ignore[arg-type]
        values=values,
        edges=edges,
        shares=shares,
        minimum=float(entry["minimum"]),  # type: ignore[arg-type]
        maximum=float(entry["maximum"]),  # type: ignore[arg-type]
        mean=float(entry["mean"]),  # type: ignore[arg-type]
        std_dev=float(entry["std_dev"]),  # type: ignore[arg-type]
        total=float(entry["total"]),  # type: ignore[arg-type]
    )
