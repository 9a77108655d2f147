"""CSV channels and bundled datasets into TabularData, and every data problem as a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workloads.training.data import (
    DataError,
    TabularData,
    load_dataset,
    prepare,
    read_csv,
    require_complete,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def frame(text: str, tmp_path: Path, name: str = "data.csv") -> pd.DataFrame:
    return read_csv(write(tmp_path / name, text), "train")


def test_a_channel_directory_is_its_csv_files_sorted_and_concatenated(tmp_path: Path) -> None:
    # given a channel with two CSV files (written out of order) and a file that is not CSV
    channel = tmp_path / "train"
    write(channel / "part-2.csv", "a,b,y\n3,30,z\n")
    write(channel / "part-1.csv", "a,b,y\n1,10,x\n2,20,y\n")
    write(channel / "README.txt", "not data")
    # when read
    data = read_csv(channel, "train")
    # then the rows are the files' rows in name order
    assert data.to_dict("list") == {"a": [1, 2, 3], "b": [10, 20, 30], "y": ["x", "y", "z"]}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"a.csv": "a,y\n1,2\n", "b.csv": "y,a\n2,1\n"},
            "b.csv: its header ['y', 'a'] differs from a.csv's ['a', 'y']; every CSV file of a channel needs the same columns",
        ),
        ({"a.csv": "a,a,y\n1,2,3\n"}, "a.csv: duplicate columns ['a']"),
        ({"notes.txt": "x"}, "train: no *.csv files in {channel}"),
        ({"a.csv": "a,y\n"}, "train: no rows in {channel}"),
    ],
)
def test_channel_problems_name_the_file(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    """Given a channel with a problem, when read, then the error names the file or channel."""
    channel = tmp_path / "train"
    for name, text in files.items():
        write(channel / name, text)
    with pytest.raises(DataError) as raised:
        read_csv(channel, "train")
    assert str(raised.value) == message.format(channel=channel)


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    """Given a path that does not exist, when read, then the error names it."""
    with pytest.raises(DataError) as raised:
        read_csv(tmp_path / "nope.csv", "validation")
    assert str(raised.value) == f"validation: {tmp_path / 'nope.csv'} does not exist"


def test_labels_of_any_type_become_sorted_class_indices(tmp_path: Path) -> None:
    # given text labels in training and validation files
    train = frame("x1,label,x2\n1,cat,0.5\n2,dog,1.5\n3,ant,2.5\n4,cat,3.5\n", tmp_path)
    validation = frame("x2,label,x1,extra\n9.5,dog,9,1\n", tmp_path, "valid.csv")
    # when prepared
    data = prepare(train, validation, target="label", task="classification")
    # then classes are sorted, y holds their indices, features keep file order and dtype
    assert data.classes == ("ant", "cat", "dog")
    assert data.feature_names == ("x1", "x2")
    assert data.y_train.tolist() == [1, 2, 0, 1]
    assert data.y_train.dtype == np.int64
    assert data.x_valid.tolist() == [[9.0, 9.5]]
    for array in (data.x_train, data.x_valid):
        assert array.dtype == np.float32
        assert array.flags.c_contiguous and array.flags.writeable
    assert data.labels(np.array([2, 0])).tolist() == ["dog", "ant"]


def test_numeric_and_boolean_labels_keep_their_python_type(tmp_path: Path) -> None:
    """Given integer and boolean labels, then classes are plain ints and bools, sorted."""
    ints, bools = (
        prepare(
            frame(text, tmp_path), None, target="y", task="classification", validation_fraction=0.5
        )
        for text in ("a,y\n1,5\n2,-1\n3,5\n4,-1\n", "a,y\n1,true\n2,false\n3,true\n4,false\n")
    )
    assert ints.classes == (-1, 5) and all(type(c) is int for c in ints.classes)
    assert bools.classes == (False, True)


def test_the_features_hyperparameter_picks_and_orders_columns(tmp_path: Path) -> None:
    """Given features listed out of file order, then the arrays follow the list."""
    train = frame("a,b,c,y\n1,2,3,0.5\n4,5,6,1.5\n7,8,9,2.5\n", tmp_path)
    data = prepare(train, train, target="y", task="regression", features=("c", "a"))
    assert data.feature_names == ("c", "a")
    assert data.x_train[0].tolist() == [3.0, 1.0]
    assert data.y_train.dtype == np.float32
    assert data.classes == ()


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("a,b\n1,2\n", {"target": "y"}, "train: target column 'y' not found; columns: a, b"),
        (
            "a,y\n1,0\n2,\n",
            {"target": "y"},
            "train: target column 'y' has missing values (rows [1])",
        ),
        (
            "a,y\n1,0\n2,0\n",
            {"target": "y"},
            "train: target 'y' has a single class 0; classification needs at least two",
        ),
        (
            "a,y\n1,x\n2,z\n",
            {"target": "y", "task": "regression"},
            "train: target column 'y' is not numeric (e.g. 'x'); a regression target must be a number",
        ),
        ("a,y\ninf,1\n2,0\n", {"target": "y"}, "train: feature column 'a' has infinite values"),
        (
            "a,b,y\n1,2,0\n2,3,1\n",
            {"target": "y", "features": ("a", "q", "y")},
            "train: features: 'q' not found; the target 'y' cannot be a feature",
        ),
        ("y\n1\n0\n", {"target": "y"}, "train: no feature columns besides the target 'y'"),
    ],
)
def test_data_problems_are_clear_errors(
    tmp_path: Path, text: str, kwargs: dict, message: str
) -> None:
    """Given a data problem, when prepared, then the error names the split and the column."""
    train = frame(text, tmp_path)
    options = {"task": "classification", **kwargs}
    with pytest.raises(DataError) as raised:
        prepare(train, train, **options)
    assert str(raised.value) == message


def test_a_validation_label_unseen_in_training_is_named(tmp_path: Path) -> None:
    # given validation data with a label training never saw
    train = frame("a,y\n1,no\n2,yes\n", tmp_path)
    validation = frame("a,y\n1,yes\n3,maybe\n", tmp_path, "v.csv")
    # when prepared
    with pytest.raises(DataError) as raised:
        prepare(train, validation, target="y", task="classification")
    # then the error names the label and the known ones
    assert str(raised.value) == (
        "validation: target 'y' has label 'maybe' not seen in training "
        "(training labels: 'no', 'yes')"
    )


def test_validation_must_have_the_training_columns(tmp_path: Path) -> None:
    """Given a validation file without a feature, then the error names the column."""
    train = frame("a,b,y\n1,2,0\n2,3,1\n", tmp_path)
    validation = frame("a,y\n1,0\n", tmp_path, "v.csv")
    with pytest.raises(DataError) as raised:
        prepare(train, validation, target="y", task="classification")
    assert str(raised.value) == "validation: column 'b' not found; the training data has them"


def test_missing_features_are_kept_for_who_can_use_them(tmp_path: Path) -> None:
    # given a feature with a missing value
    train = frame("a,b,c,y\n1,,1,0\n2,3,,1\n3,4,1,0\n4,5,1,1\n", tmp_path)
    # when prepared
    data = prepare(train, None, target="y", task="classification", validation_fraction=0.5)
    # then the NaN stays in the arrays, and an algorithm that cannot use it gets a clear error
    assert data.missing_columns() == ["b", "c"]
    with pytest.raises(DataError) as raised:
        require_complete(data, "pytorch")
    assert str(raised.value) == (
        "feature columns 'b', 'c' have missing values, which pytorch cannot use: impute them, "
        "or train with xgboost or sklearn's hist_gradient_boosting"
    )


def test_a_bundled_dataset_is_split_with_the_seed_and_stratified() -> None:
    # given scikit-learn's iris
    iris = load_dataset("iris")
    # when prepared twice with one seed and once with another
    first = prepare(iris, None, target="target", task="classification", seed=3)
    again = prepare(iris, None, target="target", task="classification", seed=3)
    other = prepare(iris, None, target="target", task="classification", seed=4)
    # then the split is 120/30, reproducible, seed-dependent and keeps the class balance
    assert (len(first.x_train), len(first.x_valid)) == (120, 30)
    assert np.array_equal(first.x_valid, again.x_valid)
    assert not np.array_equal(first.x_valid, other.x_valid)
    assert np.bincount(first.y_valid).tolist() == [10, 10, 10]
    assert first.feature_names[0] == "sepal length (cm)"
    assert first.classes == (0, 1, 2)


def test_an_unknown_dataset_lists_the_bundled_ones() -> None:
    """Given a dataset that needs a download, then the error lists the bundled ones."""
    with pytest.raises(DataError) as raised:
        load_dataset("california_housing")
    assert str(raised.value) == (
        "dataset 'california_housing' is not bundled; choose one of breast_cancer, iris, wine, "
        "diabetes"
    )


def test_too_few_rows_to_split_is_a_clear_error(tmp_path: Path) -> None:
    """Given one row and no validation data, then the error says to add rows or a channel."""
    with pytest.raises(DataError) as raised:
        prepare(frame("a,y\n1,2\n", tmp_path), None, target="y", task="regression")
    assert str(raised.value) == (
        "train: 1 rows are too few to split off a validation set (validation_fraction 0.2); "
        "add rows or a validation channel"
    )


def test_tabular_data_has_the_agreed_fields() -> None:
    """Given the dataclass the PyTorch trainer codes against, then its fields are as agreed."""
    assert list(TabularData.__dataclass_fields__) == [
        "feature_names",
        "target",
        "task",
        "classes",
        "x_train",
        "y_train",
        "x_valid",
        "y_valid",
        "inputs",
    ]
    assert TabularData.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_text_columns_are_one_hot_with_categories_from_the_training_rows_only(
    tmp_path: Path,
) -> None:
    # given a text column whose validation rows hold a category training never saw, and a
    # missing value in each split
    train = frame("a,colour,y\n1,red,0\n2,blue,1\n3,,0\n", tmp_path)
    valid = frame("a,colour,y\n4,green,1\n5,red,0\n6,,1\n", tmp_path, "valid.csv")
    # when prepared
    data = prepare(train, valid, target="y", task="classification")
    # then the schema names every feature's type, the categories are training's (sorted)
    assert data.inputs == (
        {"name": "a", "type": "numeric"},
        {"name": "colour", "type": "categorical", "categories": ["blue", "red"]},
    )
    assert data.feature_names == ("a", "colour")
    assert data.encoded_names == ["a", "colour=blue", "colour=red"]
    # and each row is one-hot; missing and unseen values are all zeros
    assert data.x_train.tolist() == [[1, 0, 1], [2, 1, 0], [3, 0, 0]]
    assert data.x_valid.tolist() == [[4, 0, 0], [5, 0, 1], [6, 0, 0]]
    assert data.x_train.dtype == np.float32


def test_a_given_schema_encodes_the_way_the_model_was_trained(tmp_path: Path) -> None:
    # given a model's schema and test rows (numbers in the text column read as numbers)
    schema = ({"name": "code", "type": "categorical", "categories": ["7", "x"]},)
    test = frame("code,y\n7,0\n7.0,1\n8,1\n", tmp_path)
    # when prepared with that schema
    data = prepare(test, test, target="y", task="classification", inputs=schema)
    # then 7 and 7.0 are the category "7", and 8 (unseen) is all zeros
    assert data.x_valid.tolist() == [[1, 0], [1, 0], [0, 0]]


def test_too_many_categories_is_one_line_naming_the_column(tmp_path: Path) -> None:
    # given a text column with more distinct values than the bound
    lines = "".join(f"{i},id-{i},{i % 2}\n" for i in range(1001))
    train = frame("a,customer,y\n" + lines, tmp_path)
    # when prepared, then the error names the column, the count, the bound and what to do
    with pytest.raises(DataError) as raised:
        prepare(train, train, target="y", task="classification")
    assert str(raised.value) == (
        "train: text column 'customer' has 1001 distinct values, more than 1000; leave it out "
        "with the features hyperparameter or hash it into a few numeric columns"
    )


def test_text_where_training_had_numbers_is_an_error_naming_the_split(tmp_path: Path) -> None:
    # given a column numeric in training but text in validation
    train = frame("a,y\n1,0\n2,1\n", tmp_path)
    valid = frame("a,y\nlots,0\n", tmp_path, "valid.csv")
    # when prepared, then the validation split and the column are named
    with pytest.raises(DataError) as raised:
        prepare(train, valid, target="y", task="classification", validation_name="validation")
    assert str(raised.value) == (
        "validation: feature column 'a' is not numeric (e.g. 'lots') but it is numeric in the "
        "training data"
    )
