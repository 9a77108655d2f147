"""What a Kubernetes training pod does around training that SageMaker did for us (moto's S3).

given objects in a (mocked) bucket / when the pod stages its inputs, trains and uploads / then the
contract is laid out as SageMaker lays it out, only verified checkpoints are resumed from, S3
keeps what the local checkpoint store keeps, and the model arrives as ``model.tar.gz``.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.workloads.conftest import mode_of
from tests.workloads.dummy_credentials import use_dummy_credentials
from tests.workloads.training.samples import make_data, write_csv
from workloads.model_layout import METADATA_FILE
from workloads.training import contract, s3_sync
from workloads.training.checkpoints import CheckpointStore
from workloads.training.entrypoint import main
from workloads.training.s3_sync import (
    CheckpointUploader,
    S3SyncError,
    S3Uri,
    SyncedOutputs,
    stage,
)

REGION = "us-east-1"
BUCKET = "experiments-bucket"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[object]:
    """Dummy credentials (nothing from ~/.aws), moto's S3 and one bucket."""
    use_dummy_credentials(monkeypatch, tmp_path, REGION)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The pod's /opt/ml, in a scratch folder; no tracking, no SageMaker variables, rank 0."""
    path = tmp_path / "opt/ml"
    monkeypatch.setenv(contract.ROOT_ENV, str(path))
    for name in (
        contract.MLFLOW_TRACKING_URI_ENV,
        contract.TRAINING_JOB_NAME_ENV,
        "SM_MODEL_DIR",
        "SM_OUTPUT_DATA_DIR",
        "SM_CHANNEL_TRAIN",
        "RANK",
        "WORLD_SIZE",
        s3_sync.CHECKPOINT_S3_URI_ENV,
        s3_sync.MODEL_S3_URI_ENV,
    ):
        monkeypatch.delenv(name, raising=False)
    return path


def put(client: object, key: str, body: bytes) -> None:
    client.put_object(Bucket=BUCKET, Key=key, Body=body)  # type: ignore[attr-defined]


def keys(client: object, prefix: str) -> list[str]:
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)  # type: ignore[attr-defined]
    return sorted(item["Key"] for item in listing.get("Contents", []))


def save_checkpoint(store: CheckpointStore, step: int, payload: bytes) -> Path:
    return store.save(step, lambda path: path.write_bytes(payload))


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix"),
    [
        ("s3://bucket/data/train", "bucket", "data/train/"),
        ("s3://bucket/data/train/", "bucket", "data/train/"),
        ("s3://bucket", "bucket", ""),
    ],
)
def test_an_s3_uri_is_a_bucket_and_a_folder_prefix(uri: str, bucket: str, prefix: str) -> None:
    assert S3Uri.parse(uri) == S3Uri(bucket, prefix)


def test_a_malformed_uri_is_refused_naming_what_it_is_for() -> None:
    with pytest.raises(S3SyncError) as raised:
        S3Uri.parse("data/train", "channel train")
    assert str(raised.value) == "channel train: 'data/train' is not an s3://bucket/prefix URI"


def test_stage_lays_out_the_contract_and_resumes_from_the_newest_valid_checkpoint(
    s3: object, root: Path, tmp_path: Path, usual_umask: int
) -> None:
    # given train and validation CSVs, and two checkpoints of which the newer is corrupted
    data = make_data()
    put(s3, "processed/train/part-0.csv", write_csv(tmp_path / "t.csv", data).read_bytes())
    put(s3, "processed/train/", b"")  # a console-made folder marker
    put(s3, "processed/valid/v.csv", write_csv(tmp_path / "v.csv", data, "valid").read_bytes())
    store = CheckpointStore(tmp_path / "local")
    good = save_checkpoint(store, 3, b"step three")
    bad = save_checkpoint(store, 5, b"step five")
    put(s3, f"k8s/job/checkpoints/{good.name}", good.read_bytes())
    put(s3, f"k8s/job/checkpoints/{bad.name}", b"truncated")
    # when the init container stages the job
    environment = stage(
        hyperparameters={"algorithm": "xgboost", "num_round": 5, "early": True},
        channels={
            "train": f"s3://{BUCKET}/processed/train",
            "validation": f"s3://{BUCKET}/processed/valid/",
        },
        checkpoints=f"s3://{BUCKET}/k8s/job/checkpoints/",
    )
    # then the contract is SageMaker's: string hyperparameters, one folder per channel
    assert json.loads((root / contract.HYPERPARAMETERS_FILE).read_text()) == {
        "algorithm": "xgboost",
        "num_round": "5",
        "early": "true",
    }
    assert environment.channels == {
        "train": root / "input/data/train",
        "validation": root / "input/data/validation",
    }
    assert [p.name for p in (root / "input/data/train").iterdir()] == ["part-0.csv"]
    # readable by the training image's user whoever staged it (umask 022: 0644)
    assert mode_of(root / "input/data/train/part-0.csv") == 0o644
    assert (root / "input/data/validation/v.csv").is_file()
    # and only the checkpoint whose bytes match its name was kept
    assert [p.name for p in (root / "checkpoints").iterdir()] == [good.name]
    assert environment.checkpoint_dir == root / "checkpoints"


def test_an_empty_channel_fails_the_staging_step_with_its_uri(
    s3: object, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given nothing under the training prefix
    # when the staging command runs
    status = s3_sync.main(["stage", "--channel", f"train=s3://{BUCKET}/missing/"])
    # then it fails with the URI it looked at
    assert status == 1
    assert capsys.readouterr().err == f"error: no objects under s3://{BUCKET}/missing/\n"


def test_the_uploader_keeps_s3_in_step_with_the_local_store(s3: object, tmp_path: Path) -> None:
    # given a store keeping two checkpoints and an uploader watching its folder
    store = CheckpointStore(tmp_path / "checkpoints", keep=2)
    uploader = CheckpointUploader(
        s3, store.directory, S3Uri.parse(f"s3://{BUCKET}/k8s/job/checkpoints")
    )
    # when three checkpoints are saved, with an upload after each
    sent = []
    for step in (1, 2, 3):
        save_checkpoint(store, step, f"step {step}".encode())
        sent += uploader.upload_new()
    # then every checkpoint went up once, and S3 holds what the folder holds
    assert len(sent) == 3
    local = sorted(path.name for path in store.directory.iterdir())
    assert keys(s3, "k8s/job/checkpoints/") == [f"k8s/job/checkpoints/{name}" for name in local]
    assert uploader.upload_new() == []


def test_a_checkpoint_uri_without_a_checkpoint_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(S3SyncError) as raised:
        SyncedOutputs.from_environ(
            checkpoint_dir=None,
            model_dir=tmp_path / "model",
            environ={s3_sync.CHECKPOINT_S3_URI_ENV: f"s3://{BUCKET}/k8s/job/checkpoints/"},
            client=object(),
        )
    assert str(raised.value) == (
        "ML_PLATFORM_CHECKPOINT_S3_URI is set but the job has no checkpoint directory"
    )


def test_only_rank_0_uploads(tmp_path: Path) -> None:
    # given both URIs on a worker of rank 1
    environ = {
        "RANK": "1",
        s3_sync.CHECKPOINT_S3_URI_ENV: f"s3://{BUCKET}/k8s/job/checkpoints/",
        s3_sync.MODEL_S3_URI_ENV: f"s3://{BUCKET}/k8s/job/model/",
    }
    # when its outputs are set up
    outputs = SyncedOutputs.from_environ(
        checkpoint_dir=tmp_path / "c", model_dir=tmp_path / "m", environ=environ
    )
    # then nothing is uploaded (and no client is even made)
    assert outputs.uploader is None
    assert outputs.upload_model() is None


def test_a_staged_pod_trains_and_uploads_its_checkpoints_and_model(
    s3: object, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a staged XGBoost job with both upload URIs set, as the TrainJob's pod has them
    data = make_data(task="regression")
    put(s3, "processed/train/t.csv", write_csv(tmp_path / "t.csv", data).read_bytes())
    stage(
        hyperparameters={
            "algorithm": "xgboost",
            "task": "regression",
            "target": "y",
            "num_round": 6,
            "checkpoint_every": 2,
            "nthread": 1,
        },
        channels={"train": f"s3://{BUCKET}/processed/train/"},
        checkpoints=f"s3://{BUCKET}/k8s/job/checkpoints/",
    )
    monkeypatch.setenv(s3_sync.CHECKPOINT_S3_URI_ENV, f"s3://{BUCKET}/k8s/job/checkpoints/")
    monkeypatch.setenv(s3_sync.MODEL_S3_URI_ENV, f"s3://{BUCKET}/k8s/job/model/")
    # when the training container runs the entrypoint
    status = main([])
    # then checkpoints and the model archive are in S3
    assert status == 0
    assert keys(s3, "k8s/job/checkpoints/")
    body = s3.get_object(Bucket=BUCKET, Key="k8s/job/model/model.tar.gz")["Body"].read()  # type: ignore[attr-defined]
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        names = archive.getnames()
    assert METADATA_FILE in names
    assert all(not name.startswith(("/", "..")) for name in names)
