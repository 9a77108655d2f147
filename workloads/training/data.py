"""Tabular training data: CSV channels (or a bundled scikit-learn dataset) as float32 arrays.

A channel is one CSV file or a directory of them (every ``*.csv``, sorted by name and
concatenated; each must have the same header row). The target column is named; the features are
every other column in file order, or the ``features`` listed. A feature column that is not numeric
is categorical (text): its categories are learnt from the training channel alone and it is
one-hot encoded (``workloads.model_layout.encode_columns``, the function serving uses too); the
input schema (every feature's name, type and categories) is kept for the model directory.
Classification labels of any type become class indices into ``classes`` (the labels in sorted
order), so every framework trains on 0..k-1 and the model directory maps them back. Without a
validation channel the training data is split with a seed (stratified for classification).

Problems are :class:`DataError` messages naming the file or split and the column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workloads.training import objectives

if TYPE_CHECKING:
    import pandas as pd

CLASSIFICATION, REGRESSION = objectives.CLASSIFICATION, objectives.REGRESSION

DATASETS: dict[str, str] = {
    "breast_cancer": CLASSIFICATION,
    "iris": CLASSIFICATION,
    "wine": CLASSIFICATION,
    "diabetes": REGRESSION,
}
"""scikit-learn's bundled datasets (no download) by name, with their task."""
DATASET_TARGET = "target"
"""The target column of a bundled dataset."""


class DataError(ValueError):
    """The training or validation data cannot be used as given."""


@dataclass(frozen=True)
class TabularData:
    """Training and validation arrays with what the model directory needs to describe them."""

    feature_names: tuple[str, ...]
    """The feature columns (raw, before encoding), in order."""
    target: str
    """The target column's name."""
    task: str  # "classification" | "regression" (objectives.CLASSIFICATION/REGRESSION)
    """``classification`` or ``regression``."""
    classes: tuple  # original labels in index order (classification); () for regression
    """Classification: the original labels, sorted; index ``i`` of ``y`` is ``classes[i]``."""
    x_train: np.ndarray  # float32, shape (n, d), C-contiguous
    """Training features, float32, shape ``(n, d)``, C-contiguous (NaN where missing)."""
    y_train: np.ndarray  # int64 class indices (classification) or float32 (regression), shape (n,)
    """Training targets: int64 class indices (classification) or float32 values, shape ``(n,)``."""
    x_valid: np.ndarray
    """Validation features, as ``x_train``."""
    y_valid: np.ndarray
    """Validation targets, as ``y_train``."""
    inputs: tuple[dict[str, Any], ...] = ()
    """The input schema (``ModelMetadata.inputs``): each feature's name and type, with the
    categories of a categorical one; the arrays' columns are its encoding. Empty: every feature
    numeric, one column each."""

    @property
    def encoded_names(self) -> list[str]:
        """A name for each column of the arrays (``feature=category`` for one-hot columns)."""
        from workloads.model_layout import encoded_names

        return encoded_names(self.inputs) if self.inputs else list(self.feature_names)

    @property
    def n_classes(self) -> int:
        """The number of classes (0 for regression)."""
        return len(self.classes)

    def labels(self, indices: np.ndarray) -> np.ndarray:
        """The original labels of class indices."""
        return np.asarray(self.classes, dtype=object)[indices]

    def missing_columns(self) -> list[str]:
        """The feature columns that have a missing value in either split."""
        missing = np.isnan(self.x_train).any(axis=0) | np.isnan(self.x_valid).any(axis=0)
        return [name for name, flag in zip(self.encoded_names, missing, strict=True) if flag]


def require_complete(data: TabularData, who: str) -> None:
    """A :class:`DataError` when any feature has missing values that ``who`` cannot use."""
    columns = data.missing_columns()
    if columns:
        raise DataError(
            f"feature column{'s' if len(columns) > 1 else ''} "
            f"{', '.join(repr(c) for c in columns[:10])}{', ...' if len(columns) > 10 else ''} "
            f"{'have' if len(columns) > 1 else 'has'} missing values, which {who} cannot use: "
            "impute them, or train with xgboost or sklearn's hist_gradient_boosting"
        )


def csv_files(path: Path, name: str) -> list[Path]:
    """The CSV files of a channel: the file itself, or a directory's ``*.csv`` sorted by name."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.glob("*.csv") if p.is_file())
        if not files:
            raise DataError(f"{name}: no *.csv files in {path}")
        return files
    raise DataError(f"{name}: {path} does not exist")


def read_csv(path: Path, name: str) -> pd.DataFrame:
    """A channel's CSV files (header row each, same columns) as one frame."""
    import pandas as pd

    frames = []
    header: list[str] | None = None
    for file in csv_files(path, name):
        try:
            with file.open(newline="", encoding="utf-8") as stream:
                # pandas renames repeated columns (a, a.1); the header as written is checked.
                columns = next(csv.reader(stream), [])
            frame = pd.read_csv(file)
        except (ValueError, UnicodeDecodeError, csv.Error) as error:  # ParserError: ValueError
            raise DataError(f"{file.name}: not a readable CSV file ({error})") from None
        if len(set(columns)) != len(columns):
            duplicates = sorted({c for c in columns if columns.count(c) > 1})
            raise DataError(f"{file.name}: duplicate columns {duplicates}")
        if len(columns) != len(frame.columns):
            raise DataError(
                f"{file.name}: the header has {len(columns)} columns but the rows have "
                f"{len(frame.columns)}"
            )
        frame.columns = columns
        if header is None:
            header = columns
            first = file.name
        elif columns != header:
            raise DataError(
                f"{file.name}: its header {columns} differs from {first}'s {header}; "
                "every CSV file of a channel needs the same columns"
            )
        frames.append(frame)
    data = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if data.empty:
        raise DataError(f"{name}: no rows in {path}")
    return data


def load_dataset(name: str) -> pd.DataFrame:
    """One of scikit-learn's bundled datasets as a frame with a ``target`` column."""
    from sklearn import datasets

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "diabetes": datasets.load_diabetes,
    }
    if name not in loaders:
        raise DataError(f"dataset {name!r} is not bundled; choose one of {', '.join(DATASETS)}")
    frame = loaders[name](as_frame=True).frame
    frame.columns = [str(column) for column in frame.columns]
    return frame


def _feature_columns(
    frame: pd.DataFrame, target: str, features: Sequence[str], name: str
) -> list[str]:
    columns = list(frame.columns)
    if target not in columns:
        raise DataError(
            f"{name}: target column {target!r} not found; columns: {', '.join(columns)}"
        )
    if not features:
        chosen = [column for column in columns if column != target]
        if not chosen:
            raise DataError(f"{name}: no feature columns besides the target {target!r}")
        return chosen
    problems = [f"{f!r} not found" for f in features if f not in columns]
    if target in features:
        problems.append(f"the target {target!r} cannot be a feature")
    if len(set(features)) != len(features):
        problems.append("a feature is listed twice")
    if problems:
        raise DataError(f"{name}: features: " + "; ".join(problems))
    return list(features)


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def learn_inputs(frame: pd.DataFrame, columns: list[str], name: str) -> tuple[dict[str, Any], ...]:
    """The input schema of ``columns``, learnt from the training frame.

    Numeric columns are numeric; every other column is categorical with its distinct values
    (sorted; missing values left out).

    More than ``MAX_CATEGORIES`` distinct values in one column is a :class:`DataError`.
    """
    from workloads.model_layout import CATEGORICAL, MAX_CATEGORIES, NUMERIC, category_key

    inputs: list[dict[str, Any]] = []
    for column in columns:
        series = frame[column]
        if _is_numeric(series):
            inputs.append({"name": column, "type": NUMERIC})
            continue
        keys = {category_key(value) for value in series.to_numpy(dtype=object).tolist()}
        keys.discard(None)
        if len(keys) > MAX_CATEGORIES:
            raise DataError(
                f"{name}: text column {column!r} has {len(keys)} distinct values, more than "
                f"{MAX_CATEGORIES}; leave it out with the features hyperparameter or hash it "
                "into a few numeric columns"
            )
        inputs.append({"name": column, "type": CATEGORICAL, "categories": sorted(keys)})
    return tuple(inputs)


def _features(frame: pd.DataFrame, inputs: tuple[dict[str, Any], ...], name: str) -> np.ndarray:
    from workloads.model_layout import NUMERIC, encode_columns

    values = []
    for spec in inputs:
        column = spec["name"]
        series = frame[column]
        if spec["type"] != NUMERIC:
            values.append(series.to_numpy(dtype=object))
            continue
        if not _is_numeric(series):
            present = series.dropna()
            example = f" (e.g. {present.iloc[0]!r})" if len(present) else ""
            raise DataError(
                f"{name}: feature column {column!r} is not numeric{example} but it is numeric "
                "in the training data"
            )
        numbers = series.to_numpy(dtype=np.float32, na_value=np.nan)
        if np.isinf(numbers).any():
            raise DataError(f"{name}: feature column {column!r} has infinite values")
        values.append(numbers)
    return _owned(encode_columns(inputs, values))


def _owned(values: np.ndarray) -> np.ndarray:
    """A C-contiguous, writable array (pandas' copy-on-write hands out read-only views)."""
    if values.flags.c_contiguous and values.flags.writeable:
        return values
    return np.array(values, order="C", copy=True)


def _plain(label: Any) -> Any:
    return label.item() if hasattr(label, "item") else label


def _targets(frame: pd.DataFrame, target: str, task: str, name: str) -> Any:
    import pandas as pd

    series = frame[target]
    if series.isna().any():
        rows = [int(i) for i in np.flatnonzero(series.isna().to_numpy())[:5]]
        raise DataError(f"{name}: target column {target!r} has missing values (rows {rows})")
    if task == REGRESSION:
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            raise DataError(
                f"{name}: target column {target!r} is not numeric (e.g. {series.iloc[0]!r}); "
                "a regression target must be a number"
            )
        values = _owned(series.to_numpy(dtype=np.float32))
        if not np.isfinite(values).all():
            raise DataError(f"{name}: target column {target!r} has infinite values")
        return values
    labels = series.to_numpy(dtype=object)
    kinds = {"number" if isinstance(_plain(v), int | float) else type(v).__name__ for v in labels}
    if len(kinds) > 1:
        # Mixed kinds of labels (numbers and text) are compared as text, so they sort.
        labels = np.asarray([str(_plain(v)) for v in labels], dtype=object)
    return labels


def _class_indices(labels: np.ndarray, classes: tuple, name: str, target: str) -> np.ndarray:
    index = {label: i for i, label in enumerate(classes)}
    found = [index.get(_plain(label), -1) for label in labels]
    indices = np.asarray(found, dtype=np.int64)
    if (indices < 0).any():
        unseen = sorted({repr(_plain(label)) for label in labels[indices < 0]})
        raise DataError(
            f"{name}: target {target!r} has label{'s' if len(unseen) > 1 else ''} "
            f"{', '.join(unseen[:10])} not seen in training (training labels: "
            f"{', '.join(repr(c) for c in classes[:20])})"
        )
    return indices


def _sorted_labels(labels: np.ndarray) -> tuple:
    return tuple(sorted({_plain(label) for label in labels}))


def prepare(
    train: pd.DataFrame,
    validation: pd.DataFrame | None,
    *,
    target: str,
    task: str,
    features: Sequence[str] = (),
    validation_fraction: float = 0.2,
    seed: int = 0,
    train_name: str = "train",
    validation_name: str = "validation",
    inputs: Sequence[Mapping[str, Any]] = (),
) -> TabularData:
    """Frames to :class:`TabularData`: features chosen and encoded, labels encoded, split.

    The input schema is learnt from ``train`` (after the split) unless ``inputs`` gives one (a
    model's, to read test data the way the model was trained); ``features`` is then its names.
    """
    if task not in (CLASSIFICATION, REGRESSION):
        raise DataError(f"task must be {CLASSIFICATION!r} or {REGRESSION!r}, not {task!r}")
    if inputs:
        features = [spec["name"] for spec in inputs]
    columns = _feature_columns(train, target, features, train_name)
    if validation is None:
        train, validation = _split(train, target, task, validation_fraction, seed, train_name)
        validation_name = f"{train_name} (validation split)"
    else:
        missing = [c for c in [*columns, target] if c not in validation.columns]
        if missing:
            raise DataError(
                f"{validation_name}: column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(c) for c in missing)} not found; the training data has them"
            )
    # Categories come from the training rows only: what validation holds stays unseen, as it
    # will be at serving time.
    schema = tuple(dict(spec) for spec in inputs) or learn_inputs(train, columns, train_name)
    x_train = _features(train, schema, train_name)
    x_valid = _features(validation, schema, validation_name)
    y_train = _targets(train, target, task, train_name)
    y_valid = _targets(validation, target, task, validation_name)
    classes: tuple = ()
    if task == CLASSIFICATION:
        classes = _sorted_labels(y_train)
        if len(classes) < 2:
            raise DataError(
                f"{train_name}: target {target!r} has a single class {classes[0]!r}; "
                "classification needs at least two"
            )
        y_train = _class_indices(y_train, classes, train_name, target)
        y_valid = _class_indices(y_valid, classes, validation_name, target)
    return TabularData(
        feature_names=tuple(columns),
        target=target,
        task=task,
        classes=classes,
        x_train=x_train,
        y_train=y_train,
        x_valid=x_valid,
        y_valid=y_valid,
        inputs=schema,
    )


def _split(
    frame: pd.DataFrame, target: str, task: str, fraction: float, seed: int, name: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    if not 0.0 < fraction < 1.0:
        raise DataError(f"validation_fraction must be between 0 and 1, not {fraction}")
    n_valid = math.ceil(len(frame) * fraction)
    if len(frame) < 2 or n_valid >= len(frame):
        raise DataError(
            f"{name}: {len(frame)} rows are too few to split off a validation set "
            f"(validation_fraction {fraction}); add rows or a validation channel"
        )
    stratify = None
    if task == CLASSIFICATION and not frame[target].isna().any():
        counts = frame[target].value_counts()
        # Stratify when every class can appear on both sides; otherwise a plain random split.
        if counts.min() >= 2 and n_valid >= len(counts) and len(frame) - n_valid >= len(counts):
            stratify = frame[target]
    train, validation = train_test_split(
        frame, test_size=n_valid, random_state=seed, stratify=stratify
    )
    return train, validation
