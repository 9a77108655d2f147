"""The model directory training writes: the framework version it records and what loading checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sklearn
import xgboost
from sklearn.linear_model import LogisticRegression

from workloads.model_layout import (
    METADATA_FILE,
    ModelLayoutError,
    ModelMetadata,
    load_model,
    save_model,
    save_sklearn_model,
    version_conflict,
)


@pytest.fixture
def sklearn_dir(tmp_path: Path) -> Path:
    """A small scikit-learn model saved in the layout."""
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.8, 0.1]])
    save_sklearn_model(tmp_path, LogisticRegression().fit(x, [0, 1, 0, 1]), ["a", "b"])
    return tmp_path


def rewrite_version(model_dir: Path, version: str | None) -> None:
    values = json.loads((model_dir / METADATA_FILE).read_text())
    if version is None:
        del values["framework_version"]
    else:
        values["framework_version"] = version
    (model_dir / METADATA_FILE).write_text(json.dumps(values))


def test_saving_records_the_installed_framework_version(sklearn_dir: Path) -> None:
    """Given a saved scikit-learn model, then its metadata has the installed version."""
    assert ModelMetadata.read(sklearn_dir).framework_version == sklearn.__version__


def test_a_model_from_another_scikit_learn_minor_version_is_refused(sklearn_dir: Path) -> None:
    # given metadata saying the model was trained with another minor version
    major, minor = sklearn.__version__.split(".")[:2]
    rewrite_version(sklearn_dir, f"{major}.{int(minor) + 1}.0")
    # when loaded
    with pytest.raises(ModelLayoutError) as refused:
        load_model(sklearn_dir)
    # then the error says which versions and what to do
    assert str(refused.value) == (
        f"model.joblib was trained with scikit-learn {major}.{int(minor) + 1}.0 but this container "
        f"has {sklearn.__version__} (scikit-learn models need the same major.minor version): "
        "serve it with a container of a matching version (framework_image_tag) or retrain it"
    )


@pytest.mark.parametrize("version", ["patch", None])
def test_another_patch_release_or_an_older_file_without_a_version_loads(
    sklearn_dir: Path, version: str | None
) -> None:
    """Given the same major.minor with another patch, or no recorded version, then it loads."""
    major, minor = sklearn.__version__.split(".")[:2]
    rewrite_version(sklearn_dir, f"{major}.{minor}.99" if version else None)
    model = load_model(sklearn_dir)
    assert model.predict(np.array([[0.0, 1.0]])).tolist() == [0]


def test_the_version_must_be_text() -> None:
    """Given a number as the version, then the metadata names the field."""
    with pytest.raises(ModelLayoutError) as invalid:
        ModelMetadata(
            framework="xgboost", task="regression", feature_names=("a",), framework_version=3
        )  # type: ignore[arg-type]
    assert str(invalid.value) == "invalid model metadata: framework_version: must be a str"


@pytest.fixture
def xgboost_dir(tmp_path: Path) -> Path:
    """A small XGBoost model saved in the layout."""
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.8, 0.1]])
    booster = xgboost.train(
        {"objective": "binary:logistic"}, xgboost.DMatrix(x, label=[0, 1, 0, 1]), 2
    )
    save_model(tmp_path, booster, {"feature_names": ("a", "b"), "task": "classification"})
    return tmp_path


def test_an_xgboost_model_of_a_later_version_is_refused(xgboost_dir: Path) -> None:
    # given metadata saying the model was trained with a later XGBoost minor version
    major, minor = xgboost.__version__.split(".")[:2]
    later = f"{major}.{int(minor) + 1}.0"
    rewrite_version(xgboost_dir, later)
    # when loaded
    with pytest.raises(ModelLayoutError) as refused:
        load_model(xgboost_dir)
    # then the error names both versions and the rule
    assert str(refused.value) == (
        f"model.ubj was trained with XGBoost {later} but this container has "
        f"{xgboost.__version__} (XGBoost cannot load a model saved by a later major.minor "
        "version): serve it with a container of a matching version (framework_image_tag) or "
        "retrain it"
    )


def test_an_xgboost_model_of_an_earlier_version_loads(xgboost_dir: Path) -> None:
    """Given a model recorded as trained by XGBoost 1.7, then the installed XGBoost loads it."""
    rewrite_version(xgboost_dir, "1.7.6")
    assert load_model(xgboost_dir).metadata.framework_version == "1.7.6"


@pytest.mark.parametrize(
    ("framework", "trained", "serving", "conflict"),
    [
        ("sklearn", "1.9.1", "1.9", None),
        ("sklearn", "1.9.1", "1.4", "scikit-learn models need the same major.minor version"),
        ("sklearn", "1.4.2", "1.9", "scikit-learn models need the same major.minor version"),
        ("sklearn", "1.10.0", "1.9", "scikit-learn models need the same major.minor version"),
        ("xgboost", "3.2.0", "3.2", None),
        ("xgboost", "1.7.6", "3.2", None),
        (
            "xgboost",
            "3.2.0",
            "1.7",
            "XGBoost cannot load a model saved by a later major.minor version",
        ),
        (
            "xgboost",
            "3.10.0",
            "3.9",
            "XGBoost cannot load a model saved by a later major.minor version",
        ),
        ("pytorch", "2.13.0", "2.6", None),
    ],
)
def test_the_version_rule(framework: str, trained: str, serving: str, conflict: str | None) -> None:
    """Given a framework, the training and the serving version, then the rule says if they fit."""
    assert version_conflict(framework, trained, serving) == conflict
