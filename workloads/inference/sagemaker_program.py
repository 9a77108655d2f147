"""The ``SAGEMAKER_PROGRAM`` for AWS's prebuilt scikit-learn, XGBoost and PyTorch containers.

The containers import ``SAGEMAKER_PROGRAM`` as a top-level module, so the source archive carries
this file at its root as ``inference.py``, beside the ``workloads/`` package it imports from:

    inference.py          <- this file
    workloads/__init__.py
    workloads/model_layout.py
    workloads/tabular_net.py
    workloads/inference/...

and the model is created with ``SAGEMAKER_PROGRAM=inference.py``.
"""

from workloads.inference.handlers import input_fn, model_fn, output_fn, predict_fn

__all__ = ["input_fn", "model_fn", "output_fn", "predict_fn"]
