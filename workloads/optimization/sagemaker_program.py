"""The script-mode program SageMaker runs for a solve job: shipped at the archive's root.

AWS's prebuilt containers unpack the source archive and run ``python solve.py --key value ...``
beside the ``workloads/`` package; the hyperparameters are read from ``hyperparameters.json``
(:mod:`workloads.optimization.contract`), so the arguments are ignored. Works under any name.
"""

from workloads.optimization.entrypoint import command

if __name__ == "__main__":
    raise SystemExit(command())
