"""KubernetesOptimizationJob under the mock runtime, its staging program against moto's S3.

given an optimization job entry on a mock cluster / when it is deployed / then one Job runs
``python -m workloads.optimization`` under the restricted pod rules with an emptyDir on every
written path, its init container stages the workload's contract (hyperparameters, the ``problem``
channel, the newest intact checkpoint) and really does so against S3, the solve container is told
where checkpoints and the solution go, the role reaches only the job's prefixes, the Job does not
hold ``pulumi up`` and waits for its role; the dev stack file deploys one such Job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from components.kubernetes.optimization_job import (
    SOLVE_PROGRAM,
    STAGE_PROGRAM,
    KubernetesOptimizationJob,
    KubernetesOptimizationJobArgs,
)
from components.kubernetes.spec import KubernetesOptimizationJobConfig, ResourcesConfig
from components.shared.optimization_job import TimeLimitsConfig
from components.shared.spec_rules import ImageConfig
from stacks.offline.mock_runtime import PlanRun
from tests.components.kubernetes.cluster import run_on_cluster
from tests.components.kubernetes.pod_templates import pod_template_problems, pod_templates
from tests.components.kubernetes.recorded import one
from tests.conftest import Plan
from tests.iam_catalog import check_documents, policy_documents
from tests.ml_platform_cli.aws_server import AwsServer, aws, moto_session  # noqa: F401
from workloads.training import contract

JOB = "kubernetes:batch/v1:Job"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DATA_ARN = "arn:aws:s3:::ml-platform-dev-processed"
EXPERIMENTS_ARN = "arn:aws:s3:::ml-platform-dev-experiments"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/abc"

BASE = KubernetesOptimizationJobArgs(
    job=KubernetesOptimizationJobConfig(
        name="plant",
        image=ImageConfig(repository="ml-platform/training", tag="1.1.0"),
        kind="jobshop",
        problem="optimization/jobshop/plant/",
        workers=4,
        time_limits=TimeLimitsConfig(total_seconds=600, no_improvement_seconds=120),
        resources=ResourcesConfig(cpu="4", memory="4Gi"),
        backoff_limit=2,
        active_deadline_seconds=1800,
    ),
    namespace="ml-platform-dev-training",
    image_repository="123456789012.dkr.ecr.us-east-1.amazonaws.com/ml-platform/training",
    problem_uri="s3://ml-platform-dev-processed/optimization/jobshop/plant",
    solution_uri="s3://ml-platform-dev-experiments/k8s/optimization/plant/solution",
    checkpoint_uri="s3://ml-platform-dev-experiments/k8s/optimization/plant/checkpoints",
    data_bucket_arn=DATA_ARN,
    experiments_bucket_arn=EXPERIMENTS_ARN,
    kms_key_arn=KEY_ARN,
    region="us-east-1",
)


def deploy(args: KubernetesOptimizationJobArgs) -> PlanRun:
    return run_on_cluster(
        lambda cluster, opts: KubernetesOptimizationJob("opt-plant", args, cluster, opts).exports()
    )


def pod(run: PlanRun) -> dict[str, Any]:
    return one(run, JOB).inputs["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


@pytest.fixture(scope="module")
def run() -> PlanRun:
    return deploy(BASE)


def test_the_job_solves_with_the_workload_and_bounded_retries(run: PlanRun) -> None:
    job = one(run, JOB)
    assert job.inputs["metadata"]["name"] == "plant"
    assert job.inputs["metadata"]["namespace"] == "ml-platform-dev-training"
    assert job.inputs["spec"]["backoffLimit"] == 2
    assert job.inputs["spec"]["activeDeadlineSeconds"] == 1800
    (solve,) = pod(run)["containers"]
    assert solve["command"] == ["python", "-c", SOLVE_PROGRAM, "workloads.optimization"]
    assert solve["image"] == f"{BASE.image_repository}:1.1.0"
    assert solve["resources"] == {
        "requests": {"cpu": "4", "memory": "4Gi"},
        "limits": {"cpu": "8", "memory": "4Gi"},
    }
    # and the workload is told where the checkpoints and the solution go
    environment = env_of(solve)
    assert environment[contract.CHECKPOINT_S3_URI_ENV] == BASE.checkpoint_uri
    assert environment[contract.MODEL_S3_URI_ENV] == BASE.solution_uri
    assert pod(run)["terminationGracePeriodSeconds"] == 120


def test_the_job_does_not_hold_pulumi_up_and_waits_for_its_role(run: PlanRun) -> None:
    job = one(run, JOB)
    assert job.inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    assert job.delete_before_replace is True
    # and it starts once its role (and service account) exists
    assert any(urn.endswith("::opt-plant-solver") for urn in job.depends_on), job.depends_on


def test_the_init_container_stages_the_contract(run: PlanRun) -> None:
    (stage,) = pod(run)["initContainers"]
    assert stage["command"][:3] == ["python", "-c", STAGE_PROGRAM]
    hyperparameters, problem, checkpoints = stage["command"][3:]
    assert json.loads(hyperparameters) == {
        "kind": "jobshop",
        "no_improvement_seconds": "120",
        "total_seconds": "600",
        "workers": "4",
    }
    assert (problem, checkpoints) == (BASE.problem_uri, BASE.checkpoint_uri)


def test_every_written_path_is_an_emptydir_and_the_pod_meets_the_restricted_rules(
    run: PlanRun,
) -> None:
    found = list(pod_templates(one(run, JOB)))
    assert len(found) == 1
    assert [
        problem for where, spec in found for problem in pod_template_problems(where, spec)
    ] == []
    spec = pod(run)
    (solve,) = spec["containers"]
    assert {mount["mountPath"] for mount in solve["volumeMounts"]} == {
        "/opt/ml/input",
        "/opt/ml/model",
        "/opt/ml/output",
        "/opt/ml/checkpoints",
        "/tmp",
    }
    assert all("emptyDir" in volume for volume in spec["volumes"])
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == "plant-solver"
    assert spec["restartPolicy"] == "Never"
    # and no GPU: the pod stays off the GPU nodes
    assert "tolerations" not in spec and "nodeSelector" not in spec


def test_the_role_reaches_only_the_job_prefixes(run: PlanRun) -> None:
    statements = {
        s["Sid"]: s for s in json.loads(one(run, ROLE_POLICY).inputs["policy"])["Statement"]
    }
    assert statements["ReadProblem"] == {
        "Sid": "ReadProblem",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{DATA_ARN}/optimization/jobshop/plant/*",
    }
    assert statements["ListProblem"]["Condition"] == {
        "StringLike": {"s3:prefix": ["optimization/jobshop/plant/*"]}
    }
    assert statements["ReadWriteOutputs"]["Resource"] == [
        f"{EXPERIMENTS_ARN}/k8s/optimization/plant/checkpoints/*",
        f"{EXPERIMENTS_ARN}/k8s/optimization/plant/solution/*",
    ]
    assert statements["UsePlatformKeyThroughS3"]["Resource"] == KEY_ARN
    assert '"*"' not in json.dumps([s["Resource"] for s in statements.values()])
    # and the role's policy and trust are valid against AWS's action catalog
    documents = policy_documents(run.resources)
    assert {document.kind for document in documents} >= {"inline", "trust"}
    assert check_documents(documents) == []


def test_invalid_args_are_reported_together() -> None:
    args = dataclasses.replace(
        BASE,
        problem_uri="optimization/jobshop/plant",
        job=BASE.job.model_copy(
            update={"image": ImageConfig.model_construct(repository="x", tag="latest")}
        ),
    )
    with pytest.raises(ValueError) as raised:
        deploy(args)
    assert str(raised.value) == (
        "Invalid optimization job plant: problem_uri: 'optimization/jobshop/plant' is not "
        "s3://<bucket>/<prefix>; image_tag: image 123456789012.dkr.ecr.us-east-1.amazonaws.com/"
        "ml-platform/training: tag 'latest' is not pinned (never 'latest')"
    )


def test_the_staging_program_lays_out_the_contract_from_s3(
    aws: AwsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    # given a problem file and two checkpoints in S3, the newer one corrupt
    s3 = aws.client("s3")
    for bucket in ("processed", "experiments"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="processed", Key="plant/ft06.txt", Body=b"6 6\n")
    good, bad = b"incumbent at step 3", b"incumbent at step 5"
    older = f"checkpoint-3-{hashlib.sha256(good).hexdigest()}.json"
    newer = f"checkpoint-5-{hashlib.sha256(b'other bytes').hexdigest()}.json"
    s3.put_object(Bucket="experiments", Key=f"k8s/plant/checkpoints/{older}", Body=good)
    s3.put_object(Bucket="experiments", Key=f"k8s/plant/checkpoints/{newer}", Body=bad)
    root = tmp_path / "opt-ml"
    environment = aws.environment(tmp_path, region="us-east-1") | {contract.ROOT_ENV: str(root)}
    # when the init container's program runs
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            STAGE_PROGRAM,
            '{"kind": "jobshop", "total_seconds": "60"}',
            "s3://processed/plant",
            "s3://experiments/k8s/plant/checkpoints",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then the contract holds the hyperparameters, the problem channel and the intact checkpoint
    assert done.returncode == 0, done.stderr
    assert json.loads((root / "input/config/hyperparameters.json").read_text()) == {
        "kind": "jobshop",
        "total_seconds": "60",
    }
    assert (root / "input/data/problem/ft06.txt").read_bytes() == b"6 6\n"
    assert [path.name for path in (root / "checkpoints").iterdir()] == [older]
    assert done.stdout.splitlines()[-1] == f"resuming from {older}"


def test_the_staging_program_fails_in_one_line_without_a_problem(
    aws: AwsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    aws.client("s3").create_bucket(Bucket="processed")
    environment = aws.environment(tmp_path, region="us-east-1") | {
        contract.ROOT_ENV: str(tmp_path / "opt-ml")
    }
    done = subprocess.run(
        [sys.executable, "-c", STAGE_PROGRAM, "{}", "s3://processed/none", "s3://processed/c"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == "error: no objects under s3://processed/none/\n"


def test_the_dev_stack_runs_one_solve_on_kubernetes(plans: dict[str, Plan]) -> None:
    layer = plans["dev"].layer("kubernetes")
    (job,) = layer.of_type(JOB)
    assert job.inputs["metadata"]["name"] == "machine-schedule"
    exported = plans["dev"].run.exports["kubernetes"]["optimization_jobs"]["machine-schedule"]
    experiments = plans["dev"].run.exports["data"]["bucket_names"]["experiments"]
    assert exported["solution_uri"] == (
        f"s3://{experiments}/k8s/optimization/machine-schedule/solution"
    )
    assert plans["prod"].run.exports["kubernetes"]["optimization_jobs"] == {}


#: A stand-in for ``workloads.optimization`` (the solve program's child): writes its solution,
#: after a SIGTERM when ``FAKE_SOLVE=wait``.
FAKE_SOLVER = """\
import os, pathlib, signal, sys, time
model = pathlib.Path(os.environ["ML_PLATFORM_SAGEMAKER_ROOT"]) / "model"
model.mkdir(parents=True, exist_ok=True)
if os.environ.get("FAKE_SOLVE") == "wait":
    stopped = []
    signal.signal(signal.SIGTERM, lambda number, frame: stopped.append(number))
    print("solving", flush=True)
    deadline = time.monotonic() + 30
    while not stopped and time.monotonic() < deadline:
        time.sleep(0.05)
(model / "solution.json").write_text('{"objective": 55}')
sys.exit(0)
"""


def solve_environment(aws: AwsServer, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    """The solve container's environment on moto, with the fake solver importable."""
    (tmp_path / "fake_solver.py").write_text(FAKE_SOLVER)
    environment = aws.environment(tmp_path, region="us-east-1")
    return environment | {
        contract.ROOT_ENV: str(tmp_path / "opt-ml"),
        contract.MODEL_S3_URI_ENV: "s3://experiments/k8s/optimization/plant/solution",
        "PYTHONPATH": f"{environment['PYTHONPATH']}{os.pathsep}{tmp_path}",
    }


def uploaded_solution(aws: AwsServer, tmp_path: Path) -> dict[str, bytes]:  # noqa: F811
    """The files of the uploaded ``model.tar.gz``, by name."""
    archive = tmp_path / "downloaded.tar.gz"
    aws.client("s3").download_file(
        "experiments", "k8s/optimization/plant/solution/model.tar.gz", str(archive)
    )
    with tarfile.open(archive) as opened:
        return {
            member.name.lstrip("./"): opened.extractfile(member).read()  # type: ignore[union-attr]
            for member in opened.getmembers()
            if member.isfile()
        }


def test_the_solve_program_uploads_the_solution_as_sagemaker_would(
    aws: AwsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    # given the solve container's environment and an experiments bucket
    aws.client("s3").create_bucket(Bucket="experiments")
    # when the program runs a solve that finishes
    done = subprocess.run(
        [sys.executable, "-c", SOLVE_PROGRAM, "fake_solver"],
        env=solve_environment(aws, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then it exits with the solve's status, the model folder uploaded as model.tar.gz
    assert done.returncode == 0, done.stderr
    assert uploaded_solution(aws, tmp_path) == {"solution.json": b'{"objective": 55}'}
    assert done.stdout.splitlines()[-1] == (
        "solution uploaded to s3://experiments/k8s/optimization/plant/solution/model.tar.gz"
    )


def test_a_stopped_pod_forwards_sigterm_uploads_and_exits_for_a_retry(
    aws: AwsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    # given a solve in progress
    aws.client("s3").create_bucket(Bucket="experiments")
    environment = solve_environment(aws, tmp_path) | {"FAKE_SOLVE": "wait"}
    running = subprocess.Popen(
        [sys.executable, "-c", SOLVE_PROGRAM, "fake_solver"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert running.stdout is not None
        ready = select.select([running.stdout], [], [], 30)[0]
        assert ready and running.stdout.readline() == "solving\n"
        # when the pod is told to stop
        running.send_signal(signal.SIGTERM)
        stdout, stderr = running.communicate(timeout=60)
    finally:
        if running.poll() is None:
            running.kill()
            running.wait(timeout=10)
    # then the solve got the signal, its incumbent is uploaded, and the exit asks for a retry
    assert running.returncode == 143, stderr
    assert uploaded_solution(aws, tmp_path) == {"solution.json": b'{"objective": 55}'}
    assert "solution uploaded to" in stdout
