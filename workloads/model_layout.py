"""The on-disk layout of a trained model: one place that training writes and inference reads.

A model directory holds ``metadata.json`` and one model file whose name depends on the framework:

- scikit-learn: ``model.joblib`` (joblib; only our own artifacts from our KMS-encrypted bucket are
  ever loaded this way, never request bodies);
- XGBoost: ``model.ubj`` (XGBoost's native UBJSON format, no pickle);
- PyTorch: ``model.pt``, a ``state_dict`` loaded with ``torch.load(..., weights_only=True)`` (no
  pickle); the architecture lives in the metadata's ``network``.

No ML library is imported at module import time: numpy, joblib, xgboost and torch are imported
inside the functions that need them, so the handler path inside AWS's prebuilt containers only
ever imports the one framework in use. The handler path must stay importable on Python 3.10 (the
oldest interpreter in the current prebuilt containers).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workloads.atomic_files import write_atomically

# Defined in model_network so tabular_net can use them without importing this module back.
from workloads.model_network import NETWORK_KEYS as NETWORK_KEYS
from workloads.model_network import ModelLayoutError as ModelLayoutError
from workloads.model_network import network_problems

if TYPE_CHECKING:
    import numpy as np

METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1
SKLEARN, XGBOOST, PYTORCH = "sklearn", "xgboost", "pytorch"
CLASSIFICATION, REGRESSION = "classification", "regression"
MODEL_FILES: Mapping[str, str] = {
    SKLEARN: "model.joblib",
    XGBOOST: "model.ubj",
    PYTORCH: "model.pt",
}
FRAMEWORKS = tuple(MODEL_FILES)
TASKS = (CLASSIFICATION, REGRESSION)
LABEL, PROBABILITY = "label", "probability"
OUTPUTS = (LABEL, PROBABILITY)


NUMERIC, CATEGORICAL = "numeric", "categorical"
FEATURE_TYPES = (NUMERIC, CATEGORICAL)
MAX_CATEGORIES = 1000
"""Most distinct values a text (categorical) column may have: each becomes one input column."""


class FeatureCountError(ValueError):
    """An input has a different number of columns than the model's ``feature_names``."""


class FeatureValueError(ValueError):
    """An input value cannot be used for its feature (text or a missing value in a numeric one)."""


def _number_key(number: float) -> str:
    # 3, 3.0 and "3.0" are one category: JSON, CSV and pandas disagree on how they spell it.
    return str(int(number)) if number.is_integer() else repr(number)


def category_key(value: object) -> str | None:
    """The text a categorical value is known by; None for a missing value (empty, null, NaN).

    Text is stripped; numbers, and text that reads as a number, are spelled one way
    (``3``, ``3.0`` and ``"3.0"`` are the category ``"3"``), so training data read by pandas and
    requests decoded from JSON or CSV find the same categories.
    """
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return text
        return _number_key(number) if math.isfinite(number) else text
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            return None
        return _number_key(number) if math.isfinite(number) else str(number)
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing markers
        return None
    return str(value)


def _shown(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _numeric_column(name: str, values: np.ndarray) -> np.ndarray:
    import numpy as np

    if values.dtype.kind in "biuf":
        return values.astype(np.float32, copy=False)
    column = np.empty(len(values), dtype=np.float32)
    for row, value in enumerate(values):
        value = _plain(value)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise FeatureValueError(
                    f"feature {name!r} takes numbers, got {_shown(value)}"
                ) from None
        if value is None or not isinstance(value, int | float):
            what = "a missing value" if value is None else f"{type(value).__name__} {_shown(value)}"
            raise FeatureValueError(f"feature {name!r} takes numbers, got {what}")
        column[row] = value
    return column


def check_rows(inputs: Sequence[Mapping[str, Any]], rows: np.ndarray) -> None:
    """Raise :class:`FeatureValueError` unless every numeric feature's values are numbers.

    ``rows`` is 2-D, one column per input; categorical features take any value.
    """
    for index, spec in enumerate(inputs):
        if spec["type"] == NUMERIC:
            _numeric_column(spec["name"], rows[:, index])


def encode_columns(
    inputs: Sequence[Mapping[str, Any]], columns: Sequence[np.ndarray]
) -> np.ndarray:
    """Raw feature columns (one 1-D array per input, in order) as the model's float32 matrix.

    The one encoding training and serving share: a numeric feature is one column as it is; a
    categorical feature is one 0/1 column per category of ``inputs`` (one-hot, in the
    categories' order), and a value that is missing or not among them (a category training
    never saw) is all zeros. Raises :class:`FeatureValueError` for text or a missing value in
    a numeric feature given as an object column.
    """
    import numpy as np

    rows = len(columns[0]) if columns else 0
    out = np.zeros((rows, encoded_width(inputs)), dtype=np.float32)
    offset = 0
    for spec, values in zip(inputs, columns, strict=True):
        values = np.asarray(values)
        if spec["type"] == NUMERIC:
            out[:, offset] = _numeric_column(spec["name"], values)
            offset += 1
            continue
        categories = spec["categories"]
        index = {category: i for i, category in enumerate(categories)}
        found = np.fromiter(
            (index.get(category_key(value), -1) for value in values.tolist()),
            dtype=np.int64,
            count=rows,
        )
        known = found >= 0
        out[np.flatnonzero(known), offset + found[known]] = 1.0
        offset += len(categories)
    return out


def encode_rows(inputs: Sequence[Mapping[str, Any]], rows: np.ndarray) -> np.ndarray:
    """Rows of raw values (2-D, one column per input) encoded by :func:`encode_columns`."""
    return encode_columns(inputs, [rows[:, i] for i in range(rows.shape[1])])


def encoded_width(inputs: Sequence[Mapping[str, Any]]) -> int:
    """How many model input columns ``inputs`` encode to."""
    return sum(1 if spec["type"] == NUMERIC else len(spec["categories"]) for spec in inputs)


def encoded_names(inputs: Sequence[Mapping[str, Any]]) -> list[str]:
    """A name for each encoded column: the feature, or ``feature=category`` for one-hot ones."""
    names = []
    for spec in inputs:
        if spec["type"] == NUMERIC:
            names.append(spec["name"])
        else:
            names.extend(f"{spec['name']}={category}" for category in spec["categories"])
    return names


def _inputs_problems(inputs: object, names: tuple[str, ...]) -> list[str]:
    if not isinstance(inputs, tuple):
        return [_problem("inputs", "must be a list of objects")]
    if not inputs:
        return []
    problems = []
    for i, spec in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(spec, Mapping):
            problems.append(_problem(where, "must be an object"))
            continue
        keys = {"name", "type"} | ({"categories"} if spec.get("type") == CATEGORICAL else set())
        if set(spec) != keys:
            problems.append(_problem(where, f"must have exactly the keys {sorted(keys)}"))
            continue
        if spec["type"] not in FEATURE_TYPES:
            problems.append(_problem(f"{where}.type", f"must be one of {FEATURE_TYPES}"))
        categories = spec.get("categories", ())
        if not isinstance(categories, tuple) or not all(
            isinstance(c, str) and c for c in categories
        ):
            problems.append(_problem(f"{where}.categories", "must be a list of non-empty str"))
        elif len(set(categories)) != len(categories):
            problems.append(_problem(f"{where}.categories", "must not repeat a category"))
    if not problems and tuple(spec["name"] for spec in inputs) != names:
        problems.append(_problem("inputs", "must name the feature_names, in their order"))
    return problems


def _problem(field_name: str, message: str) -> str:
    return f"{field_name}: {message}"


def _is_label(value: object) -> bool:
    return isinstance(value, str | int | float) and not (
        isinstance(value, float) and not math.isfinite(value)
    )


@dataclass(frozen=True, kw_only=True)
class ModelMetadata:
    """What a model directory says about its model (``metadata.json``).

    Lists are stored as tuples so the metadata stays immutable; JSON holds them as arrays.
    """

    framework: str
    """``sklearn``, ``xgboost`` or ``pytorch``: decides the model file and how it is loaded."""
    task: str
    """``classification`` or ``regression``."""
    feature_names: tuple[str, ...]
    """The input columns, in the order the model expects them."""
    target: str = "target"
    """The name of the predicted column."""
    classes: tuple[str | int | float, ...] = ()
    """Class labels in the model's output order (classification only; may be empty, then the
    model's own labels or class indices are returned)."""
    metrics: Mapping[str, float] = field(default_factory=dict)
    """Evaluation metrics recorded by training, e.g. ``{"accuracy": 0.93}``."""
    network: Mapping[str, Any] = field(default_factory=dict)
    """PyTorch only: the architecture (``input_size``, ``hidden_sizes``, ``output_size``,
    ``dropout``) that ``workloads.tabular_net.TabularNet`` is rebuilt from."""
    name: str = ""
    """An optional human-readable model name (e.g. the registry's model package group)."""
    default_output: str = LABEL
    """What the model answers when a request does not ask (``workloads.inference.handlers``):
    ``label`` (class labels; values for regression) or ``probability`` (classification only)."""
    framework_version: str = ""
    """The version of the library that trained the model (``sklearn.__version__``, ...); empty in
    files written before it was recorded. scikit-learn models load only under the same
    major.minor version: their pickles are not portable across versions."""
    inputs: tuple[Mapping[str, Any], ...] = ()
    """The input schema: for each of ``feature_names``, in order, ``{"name", "type"}`` with type
    ``numeric``, or ``categorical`` plus its ``categories`` (learnt from the training data; the
    model sees them one-hot, see :func:`encode_columns`). Empty in model directories written
    before it was recorded: every feature is then numeric."""
    format_version: int = FORMAT_VERSION
    """The layout version; only 1 exists."""

    def __post_init__(self) -> None:
        # Accept any sequence from callers, keep tuples: the dataclass is frozen.
        # numpy scalars (labels, metric values from training) become the Python scalars JSON holds.
        for name in ("feature_names", "classes"):
            value = getattr(self, name)
            if isinstance(value, list | tuple):
                object.__setattr__(self, name, tuple(_plain(item) for item in value))
        if isinstance(self.metrics, Mapping):
            plain = {key: _plain(value) for key, value in self.metrics.items()}
            object.__setattr__(self, "metrics", plain)
        if isinstance(self.inputs, list | tuple):
            specs = tuple(
                {
                    key: tuple(value) if key == "categories" and isinstance(value, list) else value
                    for key, value in spec.items()
                }
                if isinstance(spec, Mapping)
                else spec
                for spec in self.inputs
            )
            object.__setattr__(self, "inputs", specs)
        problems = self.problems()
        if problems:
            raise ModelLayoutError("invalid model metadata: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Every problem with these values, each naming its field (empty when valid)."""
        problems = []
        if self.format_version != FORMAT_VERSION:
            problems.append(
                _problem("format_version", f"must be {FORMAT_VERSION}, not {self.format_version!r}")
            )
        if self.framework not in FRAMEWORKS:
            problems.append(_problem("framework", f"must be one of {FRAMEWORKS}"))
        if self.task not in TASKS:
            problems.append(_problem("task", f"must be one of {TASKS}"))
        names = self.feature_names
        if (
            not isinstance(names, tuple)
            or not names
            or not all(isinstance(name, str) and name for name in names)
        ):
            problems.append(_problem("feature_names", "must be a non-empty list of non-empty str"))
        elif len(set(names)) != len(names):
            duplicates = sorted({name for name in names if names.count(name) > 1})
            problems.append(_problem("feature_names", f"duplicate names {duplicates}"))
        if not isinstance(self.target, str) or not self.target:
            problems.append(_problem("target", "must be a non-empty str"))
        if not isinstance(self.classes, tuple) or not all(_is_label(c) for c in self.classes):
            problems.append(_problem("classes", "must be a list of str or numbers"))
        elif self.task == REGRESSION and self.classes:
            problems.append(_problem("classes", "must be empty for a regression model"))
        elif len(set(self.classes)) != len(self.classes):
            problems.append(_problem("classes", "must not repeat a label"))
        if not isinstance(self.metrics, Mapping) or not all(
            isinstance(key, str) and type(value) in (int, float)
            for key, value in self.metrics.items()
        ):
            problems.append(_problem("metrics", "must map str to numbers"))
        inputs_problems = _inputs_problems(self.inputs, names)
        problems.extend(inputs_problems)
        if not isinstance(self.network, Mapping):
            problems.append(_problem("network", "must be an object"))
        elif self.framework == PYTORCH and isinstance(names, tuple) and not inputs_problems:
            problems.extend(
                network_problems(
                    self.network,
                    self.input_width,
                    "inputs" if self.has_categorical else "feature_names",
                )
            )
            if (
                self.task == CLASSIFICATION
                and self.classes
                and "output_size" in self.network
                and self.network["output_size"] != len(self.classes)
            ):
                problems.append(
                    _problem(
                        "network.output_size",
                        f"is {self.network.get('output_size')!r} but there are "
                        f"{len(self.classes)} classes",
                    )
                )
        elif self.network:
            problems.append(_problem("network", "is only for pytorch models"))
        if not isinstance(self.name, str):
            problems.append(_problem("name", "must be a str"))
        if self.default_output not in OUTPUTS:
            problems.append(_problem("default_output", f"must be one of {OUTPUTS}"))
        elif self.default_output == PROBABILITY and self.task != CLASSIFICATION:
            problems.append(_problem("default_output", "probability needs a classification model"))
        if not isinstance(self.framework_version, str):
            problems.append(_problem("framework_version", "must be a str"))
        return problems

    @property
    def has_categorical(self) -> bool:
        """Whether any feature is categorical (requests may then carry text)."""
        return any(spec["type"] == CATEGORICAL for spec in self.inputs)

    @functools.cached_property
    def feature_types(self) -> tuple[Mapping[str, Any], ...]:
        """The input schema: :attr:`inputs`, or every feature numeric for older directories.

        Computed once: the server checks every request against it.
        """
        return self.inputs or tuple({"name": name, "type": NUMERIC} for name in self.feature_names)

    @property
    def input_width(self) -> int:
        """How many columns the model itself takes once its inputs are encoded."""
        return encoded_width(self.inputs) if self.inputs else len(self.feature_names)

    @property
    def model_file(self) -> str:
        """The model file's name inside the model directory."""
        return MODEL_FILES[self.framework]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples as lists)."""
        values = asdict(self)
        values["feature_names"] = list(self.feature_names)
        values["classes"] = list(self.classes)
        values["metrics"] = dict(self.metrics)
        values["network"] = dict(self.network)
        values["inputs"] = [
            {key: list(value) if key == "categories" else value for key, value in spec.items()}
            for spec in self.inputs
        ]
        if not self.inputs:
            # Directories without a schema keep their bytes (and older readers keep reading them).
            del values["inputs"]
        return values

    def to_json(self) -> str:
        """The ``metadata.json`` text (sorted keys, so equal metadata gives equal bytes)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, source: str = METADATA_FILE) -> ModelMetadata:
        """Metadata from plain values; errors name ``source`` and every bad field."""
        if not isinstance(values, Mapping):
            kind = type(values).__name__
            raise ModelLayoutError(f"{source}: must hold a JSON object, not {kind}")
        known = {f.name for f in fields(cls)}
        problems = [_problem(key, "unknown field") for key in sorted(set(values) - known)]
        problems += [
            _problem(f.name, "missing")
            for f in fields(cls)
            if f.name not in values and f.name in ("framework", "task", "feature_names")
        ]
        if problems:
            raise ModelLayoutError(f"{source}: invalid model metadata: " + "; ".join(problems))
        try:
            return cls(**values)
        except ModelLayoutError as error:
            raise ModelLayoutError(f"{source}: {error}") from None

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = METADATA_FILE) -> ModelMetadata:
        """Metadata from ``metadata.json`` text."""
        try:
            values = json.loads(text)
        except (ValueError, RecursionError) as error:  # RecursionError: nesting past the stack
            raise ModelLayoutError(f"{source}: not valid JSON ({error})") from None
        return cls.from_dict(values, source=source)

    @classmethod
    def read(cls, model_dir: str | os.PathLike[str]) -> ModelMetadata:
        """The metadata of a model directory."""
        path = Path(model_dir) / METADATA_FILE
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise ModelLayoutError(
                f"{path}: missing; a model directory needs {METADATA_FILE} beside its model file"
            ) from None
        return cls.from_json(text, source=str(path))

    def write(self, model_dir: str | os.PathLike[str]) -> Path:
        """Write ``metadata.json`` into ``model_dir`` (atomically); returns its path."""
        path = Path(model_dir) / METADATA_FILE
        write_atomically(path, lambda target: target.write_text(self.to_json()))
        return path


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar JSON can hold."""
    return value.item() if hasattr(value, "item") else value


def _framework_of(model: Any) -> str:
    module = type(model).__module__.split(".")[0]
    if module == "xgboost":
        return XGBOOST
    if module == "torch" or any(cls.__module__.startswith("torch.") for cls in type(model).__mro__):
        return PYTORCH
    return SKLEARN


_FRAMEWORK_MODULES = {SKLEARN: "sklearn", XGBOOST: "xgboost", PYTORCH: "torch"}


def installed_version(framework: str) -> str:
    """The installed version of a framework's library (without a local label like ``+cpu``)."""
    import importlib

    module = importlib.import_module(_FRAMEWORK_MODULES[framework])
    return str(module.__version__).split("+")[0]


def _major_minor(version: str) -> tuple[int, ...]:
    """``(1, 9)`` for ``1.9.1``, ``1.9`` or ``1.9rc1``: the first two numeric parts."""
    parts = []
    for part in version.split(".")[:2]:
        digits = "".join(itertools.takewhile(str.isdigit, part))
        parts.append(int(digits) if digits else -1)
    return tuple(parts)


#: Library names as error messages say them.
LIBRARY_NAMES: Mapping[str, str] = {SKLEARN: "scikit-learn", XGBOOST: "XGBoost", PYTORCH: "PyTorch"}


def version_conflict(framework: str, trained: str, serving: str) -> str | None:
    """Why a ``framework`` model trained with version ``trained`` cannot run on ``serving``.

    None when it can; else the rule it breaks, for a message that names both versions. The one
    rule for every place that compares versions (the serving spec at plan time, the approval
    check at deploy time, :func:`load_model` at load time):

    - scikit-learn: the same major.minor (its pickles are not portable across versions: loading
      may fail or, worse, predict differently);
    - XGBoost: a serving major.minor no older than the training one (XGBoost loads models saved
      by earlier versions, not by later ones);
    - PyTorch: none (a weights-only ``state_dict`` of plain tensors loads across versions).
    """
    if framework == SKLEARN and _major_minor(trained) != _major_minor(serving):
        return "scikit-learn models need the same major.minor version"
    if framework == XGBOOST and _major_minor(trained) > _major_minor(serving):
        return "XGBoost cannot load a model saved by a later major.minor version"
    return None


def check_framework_version(metadata: ModelMetadata, path: Path) -> None:
    """Refuse a model the installed library cannot load faithfully (:func:`version_conflict`).

    Raises ModelLayoutError naming the file, both versions, the rule and what to do.
    """
    if not metadata.framework_version:
        return
    installed = installed_version(metadata.framework)
    trained = metadata.framework_version
    if conflict := version_conflict(metadata.framework, trained, installed):
        raise ModelLayoutError(
            f"{path.name} was trained with {LIBRARY_NAMES[metadata.framework]} {trained} but "
            f"this container has {installed} ({conflict}): serve it with a container of a "
            "matching version (framework_image_tag) or retrain it"
        )


def metadata_for(
    model: Any,
    feature_names: Sequence[str] | None = None,
    **values: Any,
) -> ModelMetadata:
    """Metadata for a fitted model, deriving what the model itself knows.

    ``framework`` comes from the model's type, ``task`` and ``classes`` from scikit-learn's
    conventions (``classes_``; XGBoost's sklearn API too), ``feature_names`` from
    ``feature_names_in_`` (a model fitted on a DataFrame) or ``x0..x{n-1}``, ``network`` from a
    ``TabularNet``, and ``framework_version`` from the installed library. Anything in
    ``values`` wins over what is derived.
    ``n_features``, if given, is checked against the feature names.
    """
    n_features = values.pop("n_features", None)
    framework = values.pop("framework", None) or _framework_of(model)
    if feature_names is None:
        feature_names = values.pop("feature_names", None)
    if feature_names is None:
        names_in = getattr(model, "feature_names_in_", None)
        count = getattr(model, "n_features_in_", None) or n_features
        if names_in is not None:
            feature_names = [str(name) for name in names_in]
        elif count:
            feature_names = [f"x{i}" for i in range(int(count))]
        else:
            raise ModelLayoutError("feature_names: cannot be derived from the model; pass them")
    feature_names = [str(name) for name in feature_names]
    if n_features is not None and n_features != len(feature_names):
        raise ModelLayoutError(
            f"n_features: is {n_features} but there are {len(feature_names)} feature_names"
        )
    if "framework_version" not in values:
        values["framework_version"] = installed_version(framework)
    if framework == PYTORCH and "network" not in values and hasattr(model, "network_spec"):
        values["network"] = model.network_spec()
    model_classes = getattr(model, "classes_", None)
    if "task" not in values:
        if framework == PYTORCH:
            raise ModelLayoutError("task: cannot be derived from a PyTorch model; pass it")
        values["task"] = CLASSIFICATION if model_classes is not None else REGRESSION
    if "classes" not in values and values["task"] == CLASSIFICATION and model_classes is not None:
        values["classes"] = [_plain(label) for label in model_classes]
    return ModelMetadata(framework=framework, feature_names=tuple(feature_names), **values)


def save_model(
    model_dir: str | os.PathLike[str],
    model: Any,
    metadata: ModelMetadata | Mapping[str, Any] | None = None,
) -> ModelMetadata:
    """Save a fitted model and its metadata into ``model_dir`` (created if missing).

    ``metadata`` is a ``ModelMetadata``, or a mapping of its fields where anything left out is
    derived from the model (see ``metadata_for``). The model file is written first and
    ``metadata.json`` last, both atomically, so a directory with metadata is always complete.
    Returns the metadata written.
    """
    if not isinstance(metadata, ModelMetadata):
        metadata = metadata_for(model, **dict(metadata or {}))
    path = Path(model_dir) / metadata.model_file
    if metadata.framework == SKLEARN:
        import joblib

        write_atomically(path, lambda target: joblib.dump(model, target))
    elif metadata.framework == XGBOOST:
        # XGBoost picks the format from the file name's extension, so the temporary keeps it.
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        write_atomically(path, lambda target: _save_booster(booster, target))
    else:
        import torch

        from workloads.tabular_net import TabularNet

        state = model.state_dict()
        # Prove now that the metadata's network can load this state, not at deploy time.
        TabularNet.from_network(metadata.network).load_state_dict(state)
        write_atomically(path, lambda target: torch.save(state, target))
    metadata.write(model_dir)
    return metadata


def _save_booster(booster: Any, target: Path) -> None:
    ubj = target.with_name(target.name + ".ubj")
    booster.save_model(str(ubj))
    os.replace(ubj, target)


def save_sklearn_model(
    model_dir: str | os.PathLike[str],
    estimator: Any,
    feature_names: Sequence[str] | None = None,
    **values: Any,
) -> ModelMetadata:
    """Save a fitted scikit-learn estimator (or pipeline) in our layout.

    The few-lines path for local serving: task and classes come from the estimator, feature names
    from the argument, the estimator's ``feature_names_in_``, or ``x0..x{n-1}``.
    """
    metadata = metadata_for(estimator, feature_names, framework=SKLEARN, **values)
    return save_model(model_dir, estimator, metadata)


class LoadedModel:
    """A model read from a model directory, ready to predict on 2-D float arrays."""

    def __init__(self, metadata: ModelMetadata) -> None:
        self.metadata = metadata
        self.n_features = len(metadata.feature_names)

    def check_columns(self, x: np.ndarray) -> None:
        """Raise ``FeatureCountError`` unless ``x`` is 2-D with one column per feature."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            got = f"{x.shape[1]} columns" if x.ndim == 2 else f"a {x.ndim}-D array"
            raise FeatureCountError(
                f"expected {self.n_features} columns ({', '.join(self.metadata.feature_names)}), "
                f"got {got}"
            )

    def input_width(self) -> int | None:
        """How many columns the loaded model itself takes, when it says (None: unknown)."""
        return None

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Rows of raw feature values as the model's input (:func:`encode_columns`).

        Values are numbers, or text for categorical features. Numeric rows of a model without
        categorical features are returned as they are. Raises :class:`FeatureValueError` for a
        value its feature cannot take.
        """
        self.check_columns(x)
        if not self.metadata.has_categorical and x.dtype.kind in "biuf":
            return x
        return encode_rows(self.metadata.feature_types, x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for each row of raw feature values (class labels, or regression values)."""
        return self._predict(self.encode(x))

    @property
    def has_predict_proba(self) -> bool:
        """Whether ``predict_proba`` is available (classification models that give scores)."""
        return False

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, one column per class in ``metadata.classes`` order."""
        raise NotImplementedError(f"{self.metadata.framework} model gives no probabilities")

    def _predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class SklearnModel(LoadedModel):
    """A scikit-learn estimator loaded with joblib."""

    def __init__(self, metadata: ModelMetadata, estimator: Any) -> None:
        super().__init__(metadata)
        self.estimator = estimator
        # A model fitted on a DataFrame warns on every ndarray; our columns are already in
        # feature_names order, so that warning says nothing here.
        self._quiet = hasattr(estimator, "feature_names_in_")

    def input_width(self) -> int | None:
        """The estimator's ``n_features_in_`` (set by every scikit-learn fit)."""
        import numpy as np

        width = getattr(self.estimator, "n_features_in_", None)
        return int(width) if isinstance(width, int | np.integer) else None

    @property
    def has_predict_proba(self) -> bool:
        """Whether the estimator has ``predict_proba``."""
        return hasattr(self.estimator, "predict_proba")

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if not self._quiet:
            return self.estimator.predict(x)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return self.estimator.predict(x)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """The estimator's ``predict_proba``."""
        return self.estimator.predict_proba(self.encode(x))


class XGBoostModel(LoadedModel):
    """An XGBoost booster loaded from its native format."""

    def __init__(self, metadata: ModelMetadata, booster: Any) -> None:
        import numpy as np

        super().__init__(metadata)
        self.booster = booster
        config = json.loads(booster.save_config())
        self.objective: str = config["learner"]["objective"]["name"]
        self._labels = np.asarray(metadata.classes) if metadata.classes else None

    def input_width(self) -> int | None:
        """The booster's feature count."""
        return int(self.booster.num_features())

    @property
    def has_predict_proba(self) -> bool:
        """Classification objectives that give probabilities."""
        return self.objective in ("binary:logistic", "multi:softprob")

    def _scores(self, x: np.ndarray) -> np.ndarray:
        # inplace_predict skips building a DMatrix: the cheapest call for small batches.
        return self.booster.inplace_predict(x)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        import numpy as np

        scores = self._scores(x)
        if self.metadata.task == REGRESSION:
            return scores
        if scores.ndim == 2:
            index = scores.argmax(axis=1)
        elif self.objective == "binary:logistic":
            index = (scores > 0.5).astype(np.intp)
        elif self.objective == "binary:logitraw":
            index = (scores > 0.0).astype(np.intp)
        else:  # multi:softmax and other objectives that already give the class index
            index = scores.astype(np.intp)
        return index if self._labels is None else self._labels[index]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (binary objectives give two columns)."""
        import numpy as np

        if not self.has_predict_proba:
            return super().predict_proba(x)
        scores = self._scores(self.encode(x))
        return scores if scores.ndim == 2 else np.column_stack([1.0 - scores, scores])


class TorchModel(LoadedModel):
    """A ``TabularNet`` rebuilt from the metadata's network and its saved ``state_dict``."""

    def __init__(self, metadata: ModelMetadata, net: Any) -> None:
        import numpy as np

        super().__init__(metadata)
        self.net = net
        self._labels = np.asarray(metadata.classes) if metadata.classes else None

    @property
    def has_predict_proba(self) -> bool:
        """Classification networks give softmax probabilities."""
        return self.metadata.task == CLASSIFICATION

    def _outputs(self, x: np.ndarray) -> Any:
        import numpy as np
        import torch

        with torch.inference_mode():
            return self.net(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))

    def _predict(self, x: np.ndarray) -> np.ndarray:
        outputs = self._outputs(x)
        if self.metadata.task == REGRESSION:
            values = outputs.numpy()
            return values[:, 0] if values.shape[1] == 1 else values
        index = outputs.argmax(dim=1).numpy()
        return index if self._labels is None else self._labels[index]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Softmax over the network's outputs."""
        if not self.has_predict_proba:
            return super().predict_proba(x)
        return self._outputs(self.encode(x)).softmax(dim=1).numpy()


def load_model(model_dir: str | os.PathLike[str]) -> LoadedModel:
    """Read a model directory: its metadata, then its model file with the framework's loader.

    Every way a directory can be unusable is a :class:`ModelLayoutError` naming the file: bad
    metadata, a missing, truncated or foreign model file, or a model whose input width is not
    the metadata's feature count (it would fail every request instead of failing to start).
    """
    metadata = ModelMetadata.read(model_dir)
    path = Path(model_dir) / metadata.model_file
    if not path.is_file():
        raise ModelLayoutError(
            f"{path}: missing; {METADATA_FILE} says framework {metadata.framework!r}, "
            f"whose model file is {metadata.model_file}"
        )
    check_framework_version(metadata, path)
    try:
        model = _load_model_file(metadata, path)
    except ModelLayoutError:
        raise
    except Exception as error:
        # Loaders explain at length (torch's weights_only text runs to many lines): keep one.
        said = next(iter(str(error).splitlines()), "")[:200]
        raise ModelLayoutError(
            f"{path}: cannot be loaded as a {metadata.framework} model "
            f"({type(error).__name__}: {said})"
        ) from None
    width = model.input_width()
    if width is not None and width != metadata.input_width:
        described = (
            f"encodes its inputs to {metadata.input_width} columns"
            if metadata.has_categorical
            else f"names {metadata.input_width}"
        )
        raise ModelLayoutError(
            f"{path}: the model takes {width} features but {METADATA_FILE} {described}"
        )
    if metadata.default_output == PROBABILITY and not model.has_predict_proba:
        raise ModelLayoutError(
            f"{path}: {METADATA_FILE} says default_output {PROBABILITY!r} but the model gives "
            "no probabilities"
        )
    return model


def _load_model_file(metadata: ModelMetadata, path: Path) -> LoadedModel:
    if metadata.framework == SKLEARN:
        import joblib

        return SklearnModel(metadata, joblib.load(path))
    if metadata.framework == XGBOOST:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(path))
        return XGBoostModel(metadata, booster)
    import torch

    from workloads.tabular_net import TabularNet

    net = TabularNet.from_network(metadata.network)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.eval()
    return TorchModel(metadata, net)
