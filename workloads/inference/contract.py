"""SageMaker's serving container contract and the server's shutdown bounds, in one place.

What a serving container must do (the SageMaker "own inference code" contract): listen on port
8080 (``SAGEMAKER_BIND_TO_PORT`` when set), answer ``GET /ping`` (200 once the model is loaded)
and ``POST /invocations``, and find the model that SageMaker unpacked from ``model.tar.gz`` under
``/opt/ml/model`` (``SM_MODEL_DIR`` when set). The server (``workloads.inference.server``) and the
components that deploy it (``components.kubernetes.inference_service``) read these names here.

Standard library only, nothing at import: ``components/`` reads it and never imports numpy.
"""

from __future__ import annotations

MODEL_DIR_ENV = "SM_MODEL_DIR"
"""Where the model directory is, when set (the ``--model-dir`` flag overrides it)."""
DEFAULT_MODEL_DIR = "/opt/ml/model"
"""Where SageMaker unpacks ``model.tar.gz`` in a serving container."""
PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
"""The port to listen on, when set (the ``--port`` flag overrides it)."""
DEFAULT_PORT = 8080
"""The port SageMaker sends requests and health checks to."""
PING_PATH = "/ping"
"""The health check: 200 once the model is loaded, 503 before."""
INVOCATIONS_PATH = "/invocations"
"""Where requests are posted for predictions."""

DRAIN_SECONDS_ENV = "ML_PLATFORM_DRAIN_SECONDS"
"""Overrides ``DEFAULT_DRAIN_SECONDS`` (the ``--drain-seconds`` flag overrides both)."""

DEFAULT_DRAIN_SECONDS = 10.0
"""After SIGTERM, the longest the server waits for requests in flight and half-sent ones. At that
bound each connection still owed an answer gets a 503 ``server is shutting down`` with
``Connection: close``, every connection is closed and the process exits 0. Keep it well under the
pod's termination grace period (``components.kubernetes.inference_service``)."""

DEFAULT_DRAIN_IDLE_SECONDS = 1.0
"""After SIGTERM, how long idle keep-alive connections stay open: a request that arrives on one
in that time is answered (with ``Connection: close``) rather than met by a closed socket."""
