# syntax=docker/dockerfile:1
# The training image: AWS's PyTorch training deep-learning container plus what our training code
# needs on top of it (scikit-learn, XGBoost, MLflow for experiment tracking).
#
#   docker build -f docker/training.Dockerfile -t <account>.dkr.ecr.<region>.amazonaws.com/ml-platform/training:1.0.0 .
#   docker build -f docker/training.Dockerfile \
#       --build-arg BASE_TAG=2.6.0-gpu-py312-cu126-ubuntu22.04-sagemaker \
#       -t <account>.dkr.ecr.<region>.amazonaws.com/ml-platform/training:1.0.0-gpu .
#
# Pulling the base image needs a login to AWS's deep-learning-container registry first:
#   aws ecr get-login-password --region us-east-1 \
#     | docker login --username AWS --password-stdin 763104351884.dkr.ecr.us-east-1.amazonaws.com
#
# Why this base: it carries the sagemaker-training toolkit, which runs script mode (it unpacks the
# job's source archive in /opt/ml/code and runs `python train.py --key value ...`, our
# workloads/training/sagemaker_program.py), sets SM_* variables, and launches torchrun for
# distributed PyTorch jobs; and its torch is built for the instance's CUDA.

ARG BASE_REGISTRY=763104351884.dkr.ecr.us-east-1.amazonaws.com
# A full release tag, never a moving one: rebuilds are reproducible and updates are a reviewed
# change. The GPU variant: BASE_TAG=2.6.0-gpu-py312-cu126-ubuntu22.04-sagemaker.
ARG BASE_TAG=2.6.0-cpu-py312-ubuntu22.04-sagemaker
FROM ${BASE_REGISTRY}/pytorch-training:${BASE_TAG}

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

# Pinned to the versions the test suite trains and tracks with. scikit-learn's pin matters most:
# a model.joblib loads only under the same scikit-learn major.minor (model_layout refuses
# others), so serve these models with a container of the same version. torch stays the base
# image's. skops: MLflow's safe format for scikit-learn models. mlflow: experiment tracking and
# the model registry (MLFLOW_TRACKING_URI). sagemaker-mlflow: the plugin that lets MLflow talk
# to a SageMaker managed MLflow tracking server given its ARN as the tracking URI. ortools: the
# optimization jobs (`python -m workloads.optimization`, components/optimization), the version the
# test suite solves with (the `optimization` extra allows 9.12-9.x); from image 1.1.0 on.
RUN pip install \
        scikit-learn==1.9.1 \
        xgboost==3.2.0 \
        skops==0.16.0 \
        mlflow==3.17.2 \
        sagemaker-mlflow==0.5.0 \
        ortools==9.15.6755

# Our package without its dependencies (installed above; torch is the base image's): it gives
# `ml-platform-train`, `python -m workloads.training` and `python -m workloads.optimization`. In script mode the job's own source
# archive in /opt/ml/code comes first on sys.path, so the code that runs is the job's.
COPY pyproject.toml README.md /tmp/src/
COPY workloads /tmp/src/workloads
RUN pip install --no-deps /tmp/src && rm -rf /tmp/src

# Non-root, for Kubernetes (components/kubernetes/train_job.py): the pods run as uid/gid 10001
# with a read-only root filesystem and mount an emptyDir on each path written: /opt/ml/input
# (staged channels and hyperparameters.json), /opt/ml/model, /opt/ml/output,
# /opt/ml/checkpoints and /tmp. HOME and the caches (MLflow, torch, matplotlib) point into /tmp,
# so nothing writes under /root or the image. The folders exist here, owned by the user, so the
# image also runs without those volumes (docker run, a writable root).
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin training \
    && mkdir -p /opt/ml/input/config /opt/ml/input/data /opt/ml/model /opt/ml/output \
        /opt/ml/checkpoints /opt/ml/code \
    && chown -R 10001:10001 /opt/ml
ENV HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    MPLCONFIGDIR=/tmp/.cache/matplotlib \
    TORCH_HOME=/tmp/.cache/torch \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /opt/ml
USER 10001:10001
