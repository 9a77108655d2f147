"""The script-mode program SageMaker runs: shipped at the source archive's root as ``train.py``.

AWS's prebuilt training containers (their sagemaker-training toolkit) unpack the source archive
and run ``python train.py --key value ...`` from its directory, beside the ``workloads/`` package::

    train.py              <- this file
    workloads/__init__.py
    workloads/model_layout.py
    workloads/training/...

The toolkit's arguments repeat ``hyperparameters.json``, which the entrypoint reads itself. This
file only calls the entrypoint, so it works under any name.
"""

from workloads.training.entrypoint import command

if __name__ == "__main__":
    raise SystemExit(command())
