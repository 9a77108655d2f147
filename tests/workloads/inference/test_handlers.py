"""The handler functions as AWS's prebuilt containers call them, for each framework."""

from __future__ import annotations

import io
import json
import sys
import types
from typing import Any

import numpy as np
import pytest

from tests.workloads.inference import models
from tests.workloads.inference.conftest import ModelDirs
from workloads.inference import handlers
from workloads.inference.errors import InferenceError
from workloads.model_layout import load_model

FRAMEWORKS = ["sklearn", "xgboost", "pytorch"]


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def serve(
    model: Any, body: bytes | str, content_type: str, accept: str = "application/json"
) -> Any:
    """One request through the four handlers, as the toolkits chain them."""
    return handlers.output_fn(
        handlers.predict_fn(handlers.input_fn(body, content_type), model), accept
    )


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_framework_answers_json_csv_and_npy(model_dirs: ModelDirs, framework: str) -> None:
    # given a model directory saved by save_model, loaded by model_fn
    model = handlers.model_fn(str(model_dirs[framework]))
    rows = models.dataset(rows=5, seed=1)[0]
    expected = load_model(model_dirs[framework]).predict(rows).tolist()
    csv_rows = "\n".join(",".join(repr(v) for v in row) for row in rows.tolist())
    # when the same rows come as JSON (text, as the toolkits pass it), CSV and NPY (bytes)
    as_json = serve(model, json.dumps({"instances": rows.tolist()}), "application/json")
    as_csv = serve(model, csv_rows, "text/csv", accept="text/csv")
    as_npy = serve(model, npy(rows), "application/x-npy")
    # then every answer holds the model's labels, in the asked format
    assert as_json == (json.dumps({"predictions": expected}).encode(), "application/json")
    assert as_csv == (("\n".join(expected) + "\n").encode(), "text/csv")
    assert as_npy == as_json
    assert set(expected) <= set(models.LABELS)


def test_regression_values_come_back_as_numbers(model_dirs: ModelDirs) -> None:
    """Given a regressor, when two rows are served, then the values come back as JSON numbers."""
    model = handlers.model_fn(str(model_dirs["sklearn-regressor"]))
    body, content_type = serve(model, "[[1, 0, 0, 0], [0, 0, 0, 1]]", "application/json")
    predictions = json.loads(body)["predictions"]
    assert content_type == "application/json"
    assert predictions == pytest.approx([2.0, 4.0])


def test_a_pickled_object_array_is_refused_without_unpickling(model_dirs: ModelDirs) -> None:
    # given an .npy body holding a pickled object array (unpickling could run code)
    model = handlers.model_fn(str(model_dirs["sklearn"]))
    body = npy(np.array([{"evil": True}, None], dtype=object), allow_pickle=True)
    # when it is decoded, then it is a 400 naming the refused dtype
    with pytest.raises(InferenceError) as refused:
        serve(model, body, "application/x-npy")
    assert (refused.value.status, refused.value.message) == (
        400,
        ".npy array must hold numbers; dtype object is refused",
    )


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        (
            "[[1, 2]]",
            "application/json",
            "application/json",
            400,
            "expected 4 values per row (a, b, c, d), got 2",
        ),
        (
            "a,b,c,e\n1,2,3,4",
            "text/csv",
            "application/json",
            400,
            "missing features: d; unknown features: 'e'",
        ),
        (
            "<xml/>",
            "application/xml",
            "application/json",
            415,
            "content type 'application/xml' is not supported; use one of application/json, text/csv, application/x-npy",
        ),
        (
            "[[1, 2, 3, 4]]",
            "application/json",
            "image/png",
            406,
            "cannot answer in 'image/png'; use one of application/json, text/csv",
        ),
    ],
)
def test_bad_requests_raise_errors_carrying_their_status(
    model_dirs: ModelDirs, body: str, content_type: str, accept: str, status: int, message: str
) -> None:
    """Given bad bodies, types and accepts, when served outside any toolkit, then the error carries its status."""
    model = handlers.model_fn(str(model_dirs["sklearn"]))
    with pytest.raises(InferenceError) as refused:
        serve(model, body, content_type, accept)
    assert (refused.value.status, refused.value.message) == (status, message)


def test_the_body_limit_can_be_raised_for_batch_transform(
    model_dirs: ModelDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a 10-byte limit from the environment, when 14 bytes come, then a 413."""
    model = handlers.model_fn(str(model_dirs["sklearn"]))
    monkeypatch.setenv(handlers.MAX_BODY_BYTES_ENV, "10")
    with pytest.raises(InferenceError) as refused:
        serve(model, "[[1, 2, 3, 4]]", "application/json")
    assert (refused.value.status, refused.value.message) == (
        413,
        "body of 14 bytes is over the limit of 10 bytes",
    )


def test_an_already_decoded_array_is_accepted_by_predict_fn(model_dirs: ModelDirs) -> None:
    """Given rows decoded by someone else, when passed to predict_fn, then they are predicted."""
    model = handlers.model_fn(str(model_dirs["sklearn"]))
    rows = models.dataset(rows=2)[0]
    assert (
        handlers.predict_fn(rows, model).values.tolist()
        == load_model(model_dirs["sklearn"]).predict(rows).tolist()
    )


# --- how each container learns the status ---------------------------------------------------


def fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)
    return module


def test_inside_the_inference_toolkit_errors_become_its_error_with_the_status(
    model_dirs: ModelDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given sagemaker-inference-toolkit's error classes (as in the PyTorch/XGBoost containers)
    class BaseInferenceToolkitError(Exception):
        def __init__(self, status_code: int, message: str, phrase: str) -> None:
            super().__init__(status_code, message, phrase)
            self.status_code, self.message, self.phrase = status_code, message, phrase

    class GenericInferenceToolkitError(BaseInferenceToolkitError):
        def __init__(
            self, status_code: int, message: str | None = None, phrase: str | None = None
        ) -> None:
            super().__init__(status_code, message or "Invalid Request", phrase or message or "")

    fake_module(monkeypatch, "sagemaker_inference")
    fake_module(
        monkeypatch,
        "sagemaker_inference.errors",
        GenericInferenceToolkitError=GenericInferenceToolkitError,
    )
    model = handlers.model_fn(str(model_dirs["sklearn"]))
    # when a bad body and a bad accept arrive, then the toolkit's error carries each status
    with pytest.raises(GenericInferenceToolkitError) as bad_body:
        serve(model, "{", "application/json")
    with pytest.raises(GenericInferenceToolkitError) as bad_accept:
        serve(model, "[[1, 2, 3, 4]]", "application/json", "text/html")
    assert (bad_body.value.status_code, bad_body.value.message) == (400, "body is not valid JSON")
    assert bad_accept.value.status_code == 406


def test_inside_the_sklearn_flask_worker_errors_are_returned_as_responses(
    model_dirs: ModelDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given sagemaker-containers' Flask worker serving a request (it turns raised errors into 500s)
    class Response:
        def __init__(self, response: str, status: int, mimetype: str) -> None:
            self.response, self.status, self.mimetype = response, status, mimetype

    fake_module(monkeypatch, "flask", has_request_context=lambda: True)
    worker = fake_module(
        monkeypatch, "sagemaker_containers.beta.framework.worker", Response=Response
    )
    fake_module(monkeypatch, "sagemaker_containers")
    fake_module(monkeypatch, "sagemaker_containers.beta")
    fake_module(monkeypatch, "sagemaker_containers.beta.framework", worker=worker)
    model = handlers.model_fn(str(model_dirs["sklearn"]))
    # when bad requests go through the handlers
    bad_body = serve(model, "[[1, 2]]", "application/json")
    bad_accept = serve(model, "[[1, 2, 3, 4]]", "application/json", "text/html")
    # then output_fn returns responses with the status and a short JSON error
    assert (bad_body.status, bad_body.mimetype) == (400, "application/json")
    assert json.loads(bad_body.response) == {
        "error": "expected 4 values per row (a, b, c, d), got 2"
    }
    assert bad_accept.status == 406
    # and good requests are still (body, content type) tuples
    assert serve(model, "[[1, 2, 3, 4]]", "application/json")[1] == "application/json"


# --- labels or probabilities ------------------------------------------------------------------


def test_predict_output_gives_labels_or_class_probabilities(model_dirs: ModelDirs) -> None:
    # given the three-class sklearn model and rows
    model = load_model(model_dirs["sklearn"])
    rows = models.dataset(rows=4, seed=1)[0]
    # then labels are the model's predictions and probabilities one per class, in its order
    assert handlers.predict_output(model, rows, "label").tolist() == model.predict(rows).tolist()
    assert np.array_equal(
        handlers.predict_output(model, rows, "probability"), model.predict_proba(rows)
    )


def test_two_classes_give_the_positive_class_probability_alone(tmp_path: Any) -> None:
    # given a binary classifier / then one value a row: the probability of classes[1]
    from sklearn.linear_model import LogisticRegression

    from workloads.model_layout import save_sklearn_model

    x, y = models.dataset()
    save_sklearn_model(tmp_path, LogisticRegression().fit(x, y > 0), models.FEATURES)
    model = load_model(tmp_path)
    rows = models.dataset(rows=4, seed=1)[0]
    assert model.metadata.classes == (False, True)
    assert handlers.predict_output(model, rows, "probability").tolist() == (
        model.predict_proba(rows)[:, 1].tolist()
    )


def test_a_request_may_ask_for_the_other_output_and_the_answer_says_so(
    model_dirs: ModelDirs,
) -> None:
    # given the sklearn classifier (its default output: labels) and rows
    model = handlers.model_fn(str(model_dirs["sklearn"]))
    rows = models.dataset(rows=3, seed=1)[0]
    body = json.dumps(rows.tolist())
    # when asked for probabilities through Accept (as InvokeEndpoint passes it)
    answer, content_type = serve(
        model, body, "application/json", "application/json; output=probability"
    )
    # then they come back, marked as the non-default output
    assert json.loads(answer) == {"predictions": model.predict_proba(rows).tolist()}
    assert content_type == "application/json; output=probability"
    # and asking for labels explicitly is the default answer, unmarked
    assert serve(model, body, "application/json", "application/json; output=label") == serve(
        model, body, "application/json"
    )


def test_a_probability_default_from_the_metadata_is_the_answer(
    model_dirs: ModelDirs, tmp_path: Any
) -> None:
    # given the sklearn classifier saved again with default_output probability
    from workloads.model_layout import ModelMetadata, save_model

    source = load_model(model_dirs["sklearn"])
    metadata = ModelMetadata(**{**source.metadata.to_dict(), "default_output": "probability"})
    save_model(tmp_path, source.estimator, metadata)  # type: ignore[attr-defined]
    model = handlers.model_fn(str(tmp_path))
    rows = models.dataset(rows=3, seed=1)[0]
    # when a request asks for nothing / then probabilities, unmarked; labels when asked, marked
    assert serve(model, json.dumps(rows.tolist()), "application/json") == (
        json.dumps({"predictions": source.predict_proba(rows).tolist()}).encode(),
        "application/json",
    )
    labels, content_type = serve(
        model, json.dumps(rows.tolist()), "application/json", "text/csv; output=label"
    )
    assert labels.decode().split() == source.predict(rows).tolist()
    assert content_type == "text/csv; output=label"


def test_probabilities_from_a_regression_model_are_a_406(model_dirs: ModelDirs) -> None:
    model = handlers.model_fn(str(model_dirs["sklearn-regressor"]))
    with pytest.raises(InferenceError) as refused:
        serve(model, "[[1, 2, 3, 4]]", "application/json", "application/json; output=probability")
    assert (refused.value.status, refused.value.message) == (
        406,
        "this regression model gives no probabilities; ask for output=label",
    )
