# syntax=docker/dockerfile:1
# The serving image: workloads/inference/server.py on SageMaker's container contract.
#
#   docker build -f docker/serving.Dockerfile -t ml-platform-serving .
#   docker run --rm -p 8080:8080 -v "$PWD/models/iris:/opt/ml/model:ro" ml-platform-serving serve
#
# SageMaker starts the image as `docker run <image> serve` with the model unpacked in
# /opt/ml/model, and talks to port 8080 (or $SAGEMAKER_BIND_TO_PORT): GET /ping, POST /invocations.

# Pinned to a patch release: rebuilds are reproducible and updates are a reviewed change.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first, pinned, from PyTorch's CPU-only index: the project's `torch>=2.4,<3` then finds it
# satisfied instead of resolving to the CUDA build (several GB the server never uses).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# Only what the package needs to build: the workloads and the project metadata.
COPY pyproject.toml README.md /tmp/src/
COPY workloads /tmp/src/workloads
RUN pip install '/tmp/src[workloads]' && rm -rf /tmp/src

# `serve` is what SageMaker runs; it listens on every interface inside the container.
RUN printf '#!/bin/sh\nexec ml-platform-serve --host 0.0.0.0 "$@"\n' > /usr/local/bin/serve \
    && chmod 0755 /usr/local/bin/serve \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin serving \
    && mkdir -p /opt/ml/model

# It runs as uid 10001 and works on a read-only root filesystem (the KServe predictor's): it
# writes nothing but sockets; no bytecode (PYTHONDONTWRITEBYTECODE), and HOME and the caches point
# at /tmp, which the pod mounts as an emptyDir. The model directory is only read (SageMaker's
# /opt/ml/model, or /mnt/models where KServe's storage initializer unpacks it).
ENV HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache
ENV SM_MODEL_DIR=/opt/ml/model
WORKDIR /opt/ml
EXPOSE 8080
USER 10001:10001

HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/ping' % os.environ.get('SAGEMAKER_BIND_TO_PORT', '8080'), timeout=2)"

CMD ["serve"]
