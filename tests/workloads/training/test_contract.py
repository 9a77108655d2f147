"""The SageMaker training contract: detection, paths, env overrides, the failure file, no side effects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from workloads.training import contract
from workloads.training.contract import SageMakerEnvironment, write_failure


def fake_job(root: Path, hyperparameters: dict | None = None) -> Path:
    """A minimal /opt/ml tree: hyperparameters.json and two channels."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters or {}))
    for channel in ("train", "validation"):
        (root / "input" / "data" / channel).mkdir(parents=True)
    return root


def test_a_local_run_is_not_a_job(tmp_path: Path) -> None:
    """Given no hyperparameters.json under the root, when detected, then it is no job."""
    assert SageMakerEnvironment.detect({contract.ROOT_ENV: str(tmp_path)}) is None


def test_a_job_is_detected_under_the_overridden_root(tmp_path: Path) -> None:
    # given a fake /opt/ml tree
    root = fake_job(tmp_path / "opt-ml")
    # when detected with the root override
    found = SageMakerEnvironment.detect({contract.ROOT_ENV: str(root), "TRAINING_JOB_NAME": "j-1"})
    # then every path is under it
    assert found == SageMakerEnvironment(
        root=root,
        model_dir=root / "model",
        output_data_dir=root / "output" / "data",
        checkpoint_dir=root / "checkpoints" / "j-1",
        channels={"train": root / "input/data/train", "validation": root / "input/data/validation"},
        training_job_name="j-1",
    )
    assert found.failure_file == root / "output" / "failure"
    assert found.hyperparameters_file == root / "input" / "config" / "hyperparameters.json"


def test_each_job_of_a_tuning_run_checkpoints_in_its_own_folder(tmp_path: Path) -> None:
    # given two jobs of one tuning run, which share the checkpoint S3 URI, and a job without name
    root = fake_job(tmp_path)
    # when each one's contract is read
    first, second, unnamed = (
        SageMakerEnvironment.from_environ({contract.ROOT_ENV: str(root), **names})
        for names in ({"TRAINING_JOB_NAME": "t-001-a"}, {"TRAINING_JOB_NAME": "t-002-b"}, {})
    )
    # then they never read each other's checkpoints; a restarted job (same name) finds its own
    assert first.checkpoint_dir == root / "checkpoints" / "t-001-a"
    assert second.checkpoint_dir == root / "checkpoints" / "t-002-b"
    assert unnamed.checkpoint_dir == root / "checkpoints"


def test_the_toolkits_variables_win_over_the_default_paths(tmp_path: Path) -> None:
    # given a job whose toolkit exports SM_* variables
    root = fake_job(tmp_path)
    environ = {
        contract.ROOT_ENV: str(root),
        "SM_MODEL_DIR": "/elsewhere/model",
        "SM_OUTPUT_DATA_DIR": "/elsewhere/output",
        "SM_CHANNEL_TRAIN": "/mnt/train",
        "SM_CHANNEL_EXTRA": "/mnt/extra",
        "SM_CHANNELS": '["train","extra"]',
    }
    # when detected
    found = SageMakerEnvironment.detect(environ)
    # then the variables decide
    assert found is not None
    assert found.model_dir == Path("/elsewhere/model")
    assert found.output_data_dir == Path("/elsewhere/output")
    assert found.channels == {
        "train": Path("/mnt/train"),
        "validation": root / "input/data/validation",
        "extra": Path("/mnt/extra"),
    }


def test_without_an_override_the_root_is_opt_ml() -> None:
    """Given no override, then the root is SageMaker's /opt/ml."""
    assert contract.root_from({}) == Path("/opt/ml")


def test_hyperparameters_are_read_as_strings(tmp_path: Path) -> None:
    """Given hyperparameters.json with strings and numbers, then all come back as strings."""
    root = fake_job(tmp_path, {"max_depth": "6", "eta": 0.1})
    found = SageMakerEnvironment.from_environ({contract.ROOT_ENV: str(root)})
    assert found.read_hyperparameters() == {"max_depth": "6", "eta": "0.1"}


def test_the_failure_reason_is_cut_below_one_kilobyte(tmp_path: Path) -> None:
    # given a very long reason with multi-byte characters
    path = tmp_path / "output" / "failure"
    # when written
    write_failure(path, "é" * 2000)
    # then it fits SageMaker's FailureReason, ends with an ellipsis and is valid UTF-8
    data = path.read_bytes()
    assert len(data) <= contract.MAX_FAILURE_BYTES
    assert data.decode("utf-8").endswith("...")
    write_failure(path, "short")
    assert path.read_text() == "short"


def test_importing_the_contract_touches_nothing(tmp_path: Path) -> None:
    """Given a root that does not exist, when the module is imported, then nothing is created."""
    root = tmp_path / "never"
    code = "import workloads.training.contract, workloads.training.entrypoint"
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env={"PATH": "/usr/bin:/bin", contract.ROOT_ENV: str(root)},
    )
    assert not root.exists()
