"""Turn one joblib-saved scikit-learn model into an MLflow model directory.

Runs inside the benchmark's own MLflow virtualenv (never the project's: MLflow is not a project
dependency), called by `benchmarks/serving_vs_mlflow.py` with that venv's python:

    python benchmarks/serving/to_mlflow.py MODEL.joblib OUT_DIR N_FEATURES

It loads the very file our server loads, so both servers answer with the same fitted estimator.
"""

from __future__ import annotations

import shutil
import sys
from importlib.metadata import version
from pathlib import Path

import joblib
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
from mlflow.models import infer_signature


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, out_dir, n_features = Path(argv[0]), Path(argv[1]), int(argv[2])
    model = joblib.load(source)
    probe = np.linspace(-1.0, 1.0, 3 * n_features).reshape(3, n_features)
    # A tensor signature (float64, shape (-1, n_features)) is MLflow's closest match to our
    # protocol (a JSON list of rows, checked against the model's feature count), and it makes
    # the scoring server take `{"inputs": [[...]]}` straight to a numpy array without pandas.
    signature = infer_signature(probe, model.predict(probe))
    if out_dir.exists():
        shutil.rmtree(out_dir)  # save_model refuses an existing directory
    mlflow.sklearn.save_model(
        model,
        str(out_dir),
        # MLflow 3 defaults to skops, whose loader refuses types it does not trust; cloudpickle
        # is MLflow's long-standing format and what most deployed models use.
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        signature=signature,
        # Explicit requirements: otherwise MLflow runs the model in a subprocess to infer them,
        # which is slow and irrelevant with `--env-manager local`.
        pip_requirements=[f"scikit-learn=={version('scikit-learn')}"],
    )
    # Load it back the way the scoring server will, and check it predicts like the source.
    loaded = mlflow.pyfunc.load_model(str(out_dir))
    if not np.array_equal(np.asarray(loaded.predict(probe)), model.predict(probe)):
        print(f"MLflow copy of {source} predicts differently", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
