"""The four handler functions AWS's prebuilt framework containers call (sklearn, XGBoost, PyTorch).

The containers import the module named by ``SAGEMAKER_PROGRAM`` (our shim
``workloads/inference/sagemaker_program.py``, shipped as ``inference.py``) and call:

- ``model_fn(model_dir)`` once per worker, to load the model;
- ``input_fn(request_body, request_content_type)`` per request: the body arrives as ``str`` for
  JSON and CSV (the toolkits decode UTF-8 types) and as ``bytes`` otherwise;
- ``predict_fn(input_data, model)``: predicts the model's default output (its metadata's
  ``default_output``) and returns it as a :class:`Predicted`;
- ``output_fn(prediction, accept)``, which returns ``(body, content_type)``: every toolkit
  (sagemaker-inference-toolkit's Transformer, the scikit-learn container's MMS and Flask workers)
  takes a tuple as body plus response content type. The toolkits show the request's Accept header
  to ``output_fn`` alone, so a request asking for the other output
  (``Accept: application/json; output=probability``) is predicted again there.

:func:`predict_output` is the one prediction function: this server path, our own server
(``workloads.inference.server``) and the monitor's baseline (``ml-platform-monitor baseline
--model``) all call it, so the baseline's predictions are what the endpoint answers.

Bad input must reach the client as a 4xx, and each container learns the status differently:

- the sagemaker-inference-toolkit based servers (PyTorch, XGBoost, scikit-learn in multi-model
  mode) answer with ``status_code`` of a raised ``BaseInferenceToolkitError``; anything else is a
  500. So an ``InferenceError`` is re-raised as the toolkit's ``GenericInferenceToolkitError``
  (imported only on that error path; the toolkit is there when it is running us);
- the scikit-learn container's single-model Flask worker (sagemaker-containers) wraps every
  exception a handler raises into a 500, and takes a status only from a returned
  ``worker.Response``. There the error travels as a ``RejectedRequest`` value through
  ``predict_fn`` to ``output_fn``, which returns that response;
- anywhere else (our own server, tests) the ``InferenceError`` itself is raised.

Those toolkits add their own traceback text to error bodies; our server does not.

Imports: standard library, numpy and, through ``model_fn``, the one framework in use.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from workloads.inference import codecs
from workloads.inference.errors import InferenceError, MalformedInput, NotAcceptable
from workloads.model_layout import (
    LABEL,
    PROBABILITY,
    FeatureCountError,
    FeatureValueError,
    LoadedModel,
    load_model,
)

MAX_BODY_BYTES_ENV = "ML_PLATFORM_MAX_BODY_BYTES"
"""Overrides the request size limit (bytes); batch transform may send more than 6 MiB."""


@dataclass(frozen=True)
class Predicted:
    """``predict_fn``'s result: the model's default output for the rows, kept with the rows.

    ``output_fn`` encodes ``values``, or predicts ``rows`` again when the request asks for the
    other output.
    """

    values: np.ndarray
    """The predictions in ``output``."""
    output: str
    """Which output ``values`` are (the model's ``default_output``)."""
    rows: np.ndarray
    """The rows, in the model's feature order."""
    model: LoadedModel
    """The model that predicted them."""


def requested_output(model: LoadedModel, accept: str | None) -> str:
    """The output a request gets: the Accept header's ``output``, else the model's default.

    Raises:
        NotAcceptable: for an unknown output, or probabilities from a model that gives none.

    """
    output = codecs.output_of(accept) or model.metadata.default_output
    if output == PROBABILITY and not model.has_predict_proba:
        raise NotAcceptable(
            f"this {model.metadata.task} model gives no probabilities; ask for output={LABEL}"
        )
    return output


def predict_output(model: LoadedModel, rows: np.ndarray, output: str) -> np.ndarray:
    """What the endpoint answers for ``rows`` (in feature order) in ``output``.

    ``label``: the model's predictions (class labels, or values for regression). ``probability``:
    for two classes the probability of the second (``classes[1]``, the positive class), one value
    a row; for more, one probability per class a row, in ``classes`` order.
    """
    if output == LABEL:
        return model.predict(rows)
    probabilities = model.predict_proba(rows)
    return probabilities[:, 1] if probabilities.shape[1] == 2 else probabilities


@dataclass(frozen=True)
class RejectedRequest:
    """A refused request carried as a value to ``output_fn`` (the Flask worker only; see above)."""

    error: InferenceError


def _max_body_bytes() -> int:
    value = os.environ.get(MAX_BODY_BYTES_ENV)
    return int(value) if value else codecs.DEFAULT_MAX_BODY_BYTES


def _in_flask_worker() -> bool:
    """Whether we run inside sagemaker-containers' Flask worker, serving a request now."""
    flask = sys.modules.get("flask")
    return (
        flask is not None
        and "sagemaker_containers" in sys.modules
        and bool(flask.has_request_context())
    )


def _raise_for_container(error: InferenceError) -> NoReturn:
    try:
        from sagemaker_inference.errors import GenericInferenceToolkitError
    except ImportError:
        raise error from None
    raise GenericInferenceToolkitError(error.status, error.message) from None


def _reject(error: InferenceError) -> RejectedRequest:
    if _in_flask_worker():
        return RejectedRequest(error)
    _raise_for_container(error)


def _flask_error_response(error: InferenceError) -> Any:
    from sagemaker_containers.beta.framework import worker

    body = json.dumps({"error": error.message})
    return worker.Response(response=body, status=error.status, mimetype=codecs.JSON)


def model_fn(model_dir: str) -> LoadedModel:
    """Load the model directory the container unpacked (``/opt/ml/model``)."""
    return load_model(model_dir)


def input_fn(
    request_body: bytes | str, request_content_type: str | None
) -> codecs.Rows | RejectedRequest:
    """Decode a request body (JSON, CSV or NPY) into rows; never unpickles anything."""
    try:
        codecs.check_size(len(request_body), _max_body_bytes())
        return codecs.decode(request_body, codecs.content_type_of(request_content_type))
    except InferenceError as error:
        return _reject(error)


def predict_fn(
    input_data: codecs.Rows | RejectedRequest, model: LoadedModel
) -> Predicted | RejectedRequest:
    """Predict the model's default output on the decoded rows, put in its feature order first."""
    if isinstance(input_data, RejectedRequest):
        return input_data
    try:
        if not isinstance(input_data, codecs.Rows):  # a caller that decoded the body itself
            input_data = codecs.Rows(codecs.as_matrix(input_data))
        rows = codecs.align(input_data, model.metadata.feature_names, model.metadata.feature_types)
        output = model.metadata.default_output
        return Predicted(predict_output(model, rows, output), output, rows, model)
    except (FeatureCountError, FeatureValueError) as error:
        return _reject(MalformedInput(str(error)))
    except InferenceError as error:
        return _reject(error)


def output_fn(prediction: Predicted | np.ndarray | RejectedRequest, accept: str | None) -> Any:
    """Encode predictions as JSON or CSV per ``accept``; returns ``(body, content_type)``.

    A :class:`Predicted` is answered in the output ``accept`` asks for (its ``output``
    parameter), the model's default otherwise; an answer in the other output carries
    ``; output=<output>`` in its content type. Plain arrays (a caller's own) go as they are.
    """
    if isinstance(prediction, RejectedRequest):
        return _flask_error_response(prediction.error)
    try:
        media = codecs.accept_of(accept)
        values, content_type = prediction, media
        if isinstance(prediction, Predicted):
            output = requested_output(prediction.model, accept)
            values = prediction.values
            if output != prediction.output:
                values = predict_output(prediction.model, prediction.rows, output)
                content_type = media + codecs.output_parameter(output)
    except InferenceError as error:
        if _in_flask_worker():
            return _flask_error_response(error)
        _raise_for_container(error)
    return codecs.encode(np.asarray(values), media), content_type
