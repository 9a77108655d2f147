"""MLflow tracking in a local SQLite store: params, metrics, the model, its flavor, the registry."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.workloads.training.samples import (  # noqa: F401  (one_thread: an autouse fixture)
    mlflow_store,
    one_thread,
    report_lines,
)
from workloads.model_layout import load_model
from workloads.training import contract
from workloads.training.entrypoint import main
from workloads.training.outcome import TrainedModel
from workloads.training.tracking import (
    MODEL_DIGEST_TAG,
    TrackingUnavailable,
    import_mlflow,
    model_dir_digest,
)

# MLflow's own warnings, which it silences itself outside pytest: its SQL store uses a loader
# strategy SQLAlchemy 2.1 deprecates, and importing its pyfunc module warns about its own types.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store for the module."""
    return mlflow_store(tmp_path_factory.mktemp("mlflow") / "mlflow.db", tmp_path_factory)


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A local run: no SageMaker tree, no tracking variables."""
    monkeypatch.setenv(contract.ROOT_ENV, str(tmp_path / "no-job"))
    monkeypatch.delenv(contract.MLFLOW_TRACKING_URI_ENV, raising=False)
    monkeypatch.delenv(contract.MLFLOW_EXPERIMENT_NAME_ENV, raising=False)


def only_run(store: str, experiment: str):  # type: ignore[no-untyped-def]
    import mlflow

    client = mlflow.MlflowClient(store)
    found = client.get_experiment_by_name(experiment)
    [run] = client.search_runs([found.experiment_id])
    return client, run


@pytest.mark.usefixtures("local")
def test_a_tracked_run_records_params_metrics_model_and_a_registered_version(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a local training with tracking and registration
    model_dir, output_dir = tmp_path / "model", tmp_path / "output"
    # when it runs
    status = main(
        [
            "--algorithm", "sklearn", "--dataset", "breast_cancer", "--model-dir", str(model_dir),
            "--output-dir", str(output_dir), "--hyperparameter", "max_iter=30",
            "--tracking-uri", store, "--experiment", "tracked", "--register-model", "cancer",
        ]
    )  # fmt: skip
    # then the run has every hyperparameter, each step's metrics and the final ones
    assert status == 0
    client, run = only_run(store, "tracked")
    assert run.info.status == "FINISHED"
    assert run.data.params["estimator"] == "hist_gradient_boosting"
    assert run.data.params["max_iter"] == "30"
    assert run.data.params["objective"] == "valid_loss"
    assert run.data.tags["ml_platform.algorithm"] == "sklearn"
    lines = report_lines(capsys.readouterr().out)
    history = client.get_metric_history(run.info.run_id, "valid_loss")
    assert [(m.step, m.value) for m in history][:-1] == [
        (line["step"], line["valid_loss"]) for line in lines[:-1]
    ]
    metadata = load_model(model_dir).metadata
    assert run.data.metrics == dict(metadata.metrics)
    # and the model directory, the outputs and the flavor model are logged
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert artifacts == {"model/metadata.json", "model/model.joblib"}
    # (tagged with the directory's digest, by which `ml-platform-lifecycle register` finds it)
    assert run.data.tags[MODEL_DIGEST_TAG] == model_dir_digest(model_dir)
    assert [a.path for a in client.list_artifacts(run.info.run_id, "output")] == [
        "output/metrics.json"
    ]
    # and the registered version loads (skops, trusting only scikit-learn's types) and agrees
    import mlflow

    [version] = client.search_model_versions("name='cancer'")
    assert version.run_id == run.info.run_id
    flavor = mlflow.sklearn.load_model(f"models:/cancer/{version.version}")
    ours = load_model(model_dir)
    rows = np.random.default_rng(0).normal(size=(5, 30)).astype(np.float32) * 10 + 10
    assert np.array_equal(flavor.predict(rows), ours.predict(rows))


@pytest.mark.usefixtures("local")
@pytest.mark.parametrize(
    ("algorithm", "options"),
    [
        ("xgboost", ["--hyperparameter", "num_round=10", "--hyperparameter", "nthread=1"]),
        ("pytorch", ["--hyperparameter", "epochs=2", "--hyperparameter", "num_threads=1"]),
    ],
)
def test_the_flavor_model_loads_back_and_predicts_like_ours(
    store: str, tmp_path: Path, algorithm: str, options: list[str]
) -> None:
    """Given XGBoost or PyTorch, when tracked, then its flavor (UBJSON or pt2) gives our scores."""
    import mlflow

    experiment = f"flavor-{algorithm}"
    status = main(
        ["--algorithm", algorithm, "--dataset", "wine", "--model-dir", str(tmp_path / "m"),
         "--tracking-uri", store, "--experiment", experiment, *options]
    )  # fmt: skip
    assert status == 0
    client, run = only_run(store, experiment)
    [logged] = client.search_logged_models([run.info.experiment_id])
    assert logged.source_run_id == run.info.run_id
    ours = load_model(tmp_path / "m")
    rows = np.random.default_rng(1).normal(size=(4, 13)).astype(np.float32)
    if algorithm == "xgboost":
        flavor = mlflow.xgboost.load_model(logged.model_uri)
        assert np.allclose(flavor.inplace_predict(rows), ours.predict_proba(rows))
    else:
        import torch

        flavor = mlflow.pytorch.load_model(logged.model_uri)
        with torch.no_grad():
            assert np.allclose(
                flavor(torch.from_numpy(rows)).softmax(dim=1).numpy(),
                ours.predict_proba(rows),
                atol=1e-6,
            )


@pytest.mark.usefixtures("local")
def test_a_stopped_run_is_killed_and_a_failed_one_failed(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given trainings that are stopped by SIGTERM, and that break
    outcomes = iter(
        [
            TrainedModel(
                framework="sklearn", model=None, metrics={}, framework_version="", interrupted=True
            )
        ]
    )

    def stopped_then_broken(*args: object) -> TrainedModel:
        for outcome in outcomes:
            return outcome
        raise RuntimeError("broken")

    monkeypatch.setattr("workloads.training.algorithms.train", stopped_then_broken)
    arguments = [
        "--algorithm",
        "sklearn",
        "--dataset",
        "iris",
        "--model-dir",
        str(tmp_path / "m"),
        "--tracking-uri",
        store,
    ]
    # when each runs
    first = main([*arguments, "--experiment", "stopped"])
    second = main([*arguments, "--experiment", "broken"])
    # then the spot stop exits 0 with a KILLED run, the failure 1 with a FAILED run
    assert (first, second) == (0, 1)
    assert only_run(store, "stopped")[1].info.status == "KILLED"
    assert only_run(store, "broken")[1].info.status == "FAILED"


@pytest.mark.usefixtures("local")
def test_tracking_without_mlflow_says_which_image_to_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a container without mlflow and MLFLOW_TRACKING_URI set
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setenv(contract.MLFLOW_TRACKING_URI_ENV, "http://mlflow:5000")
    # when training runs
    status = main(
        ["--algorithm", "sklearn", "--dataset", "iris", "--model-dir", str(tmp_path / "m")]
    )
    # then it fails before training, saying what to do
    assert status == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: MLFLOW_TRACKING_URI is set but mlflow is not installed in this container: use "
        "the ml-platform/training image (docker/training.Dockerfile) or unset it"
    )
    assert not (tmp_path / "m").exists()


def test_a_sagemaker_tracking_server_arn_needs_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given an ARN tracking URI, when mlflow is missing or the plugin is, then both say so."""
    arn = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlp"
    with pytest.raises(TrackingUnavailable) as without_plugin:
        import_mlflow(arn)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(TrackingUnavailable) as without_mlflow:
        import_mlflow(arn)
    assert str(without_plugin.value) == (
        f"the tracking URI {arn} is a SageMaker MLflow tracking server, which needs the "
        "sagemaker-mlflow plugin: use the ml-platform/training image (docker/training.Dockerfile), "
        "pip install sagemaker-mlflow, or unset MLFLOW_TRACKING_URI"
    )
    assert str(without_mlflow.value).endswith(
        "or unset it (a SageMaker MLflow tracking server's ARN also needs the sagemaker-mlflow plugin)"
    )


def test_a_job_tracks_through_the_environment(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a SageMaker job whose environment names the store and the experiment
    root = tmp_path / "opt/ml"
    (root / "input/config").mkdir(parents=True)
    (root / "input/config/hyperparameters.json").write_text(
        json.dumps(
            {"algorithm": "sklearn", "task": "classification", "target": "y", "estimator": "linear"}
        )
    )
    (root / "input/data/train").mkdir(parents=True)
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{int(i % 7 > 3)}" for i in range(60))
    (root / "input/data/train/data.csv").write_text("a,b,y\n" + rows + "\n")
    monkeypatch.setenv(contract.ROOT_ENV, str(root))
    monkeypatch.setenv(contract.MLFLOW_TRACKING_URI_ENV, store)
    monkeypatch.setenv(contract.MLFLOW_EXPERIMENT_NAME_ENV, "from-env")
    monkeypatch.setenv("TRAINING_JOB_NAME", "mlp-train-42")
    # when it runs
    assert main([]) == 0
    # then the run is in that experiment, tagged with the job
    _, run = only_run(store, "from-env")
    assert run.data.tags["sagemaker.training_job_name"] == "mlp-train-42"


@pytest.mark.usefixtures("local")
def test_automl_records_each_trial_as_a_nested_run(store: str, tmp_path: Path) -> None:
    # given an AutoML search with tracking
    output_dir = tmp_path / "output"
    # when it runs through the entrypoint
    status = main(
        ["--algorithm", "automl", "--dataset", "iris", "--model-dir", str(tmp_path / "m"),
         "--output-dir", str(output_dir), "--tracking-uri", store, "--experiment", "automl",
         "--hyperparameter", "max_trials=3", "--hyperparameter", "families=linear,xgboost"]
    )  # fmt: skip
    # then each trial is a nested run with its family, params and metrics, as in trials.json
    assert status == 0
    import mlflow

    client = mlflow.MlflowClient(store)
    experiment = client.get_experiment_by_name("automl")
    runs = client.search_runs([experiment.experiment_id])
    [parent] = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children = sorted(
        (run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id),
        key=lambda run: run.info.run_name,
    )
    record = json.loads((output_dir / "trials.json").read_text())
    assert [run.info.run_name for run in children] == [
        f"trial-{t['trial']}-{t['family']}" for t in record["trials"]
    ]
    for run, trial in zip(children, record["trials"], strict=True):
        assert run.info.status == "FINISHED"
        assert run.data.params["family"] == trial["family"]
        assert run.data.metrics == trial["metrics"]
    best = record["trials"][record["best_trial"] - 1]
    assert parent.data.metrics == best["metrics"]
    assert parent.data.params["max_trials"] == "3"


@pytest.mark.usefixtures("local")
def test_a_flavor_that_cannot_be_logged_keeps_the_job_unless_it_was_to_be_registered(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given MLflow failing to log the framework's flavor
    def broken(*args: object) -> None:
        raise RuntimeError("export failed")

    monkeypatch.setattr("workloads.training.tracking.ExperimentTracker._log_flavor", broken)
    arguments = [
        "--algorithm",
        "sklearn",
        "--dataset",
        "iris",
        "--hyperparameter",
        "estimator=linear",
        "--tracking-uri",
        store,
    ]
    # when a run is tracked, and another is also to be registered
    kept = main([*arguments, "--model-dir", str(tmp_path / "a"), "--experiment", "no-flavor"])
    kept_err = capsys.readouterr().err
    refused = main(
        [
            *arguments,
            "--model-dir",
            str(tmp_path / "b"),
            "--experiment",
            "no-flavor-registered",
            "--register-model",
            "never",
        ]
    )
    # then the first succeeds with its model directory logged, the second fails saying why
    assert kept == 0
    assert "MLflow: the sklearn flavor was not logged (RuntimeError: export failed)" in kept_err
    client, run = only_run(store, "no-flavor")
    assert {a.path for a in client.list_artifacts(run.info.run_id, "model")} == {
        "model/metadata.json",
        "model/model.joblib",
    }
    assert refused == 1
    assert (
        capsys.readouterr().err.strip().splitlines()[-1]
        == "error: cannot register 'never': RuntimeError: export failed"
    )
    assert only_run(store, "no-flavor-registered")[1].info.status == "FAILED"
