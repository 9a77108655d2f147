"""KubernetesTrainJob under the recording mock runtime.

given a KubernetesTrainJob built with some args / when its recorded TrainingRuntime, TrainJob
and IAM policy are read / then the world size, retries, deadline, staging, S3 outputs, pod
security and the role's scope are what the args and the platform's rules ask for.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from components.kubernetes.spec import KubernetesTrainingJobConfig, ResourcesConfig
from components.kubernetes.train_job import KubernetesTrainJob, KubernetesTrainJobArgs
from components.shared.spec_rules import ImageConfig
from stacks.offline.mock_runtime import PlanRun
from tests.components.kubernetes.cluster import run_on_cluster
from tests.components.kubernetes.pod_templates import pod_template_problems, pod_templates
from tests.components.kubernetes.recorded import one
from workloads.training import s3_sync

RUNTIME = "kubernetes:trainer.kubeflow.org/v1alpha1:TrainingRuntime"
TRAIN_JOB = "kubernetes:trainer.kubeflow.org/v1alpha1:TrainJob"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DATA_ARN = "arn:aws:s3:::ml-platform-dev-processed"
EXPERIMENTS_ARN = "arn:aws:s3:::ml-platform-dev-experiments"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/abc"

BASE = KubernetesTrainJobArgs(
    job=KubernetesTrainingJobConfig(
        name="churn-ddp",
        image=ImageConfig(repository="ml-platform/training", tag="1.0.0-gpu"),
        algorithm="pytorch",
        target="churned",
        train_data="churn/train",
        validation_data="churn/validation/",
        hyperparameters={"epochs": 20, "learning_rate": 0.001},
        nodes=2,
        gpus_per_node=4,
        resources=ResourcesConfig(cpu="8", memory="64Gi"),
        backoff_limit=5,
        active_deadline_seconds=7200,
    ),
    namespace="ml-platform-dev-training",
    image_repository="123456789012.dkr.ecr.us-east-1.amazonaws.com/ml-platform/training",
    train_uri="s3://ml-platform-dev-processed/churn/train",
    validation_uri="s3://ml-platform-dev-processed/churn/validation/",
    model_uri="s3://ml-platform-dev-experiments/k8s/churn-ddp/model",
    checkpoint_uri="s3://ml-platform-dev-experiments/k8s/churn-ddp/checkpoints",
    data_bucket_arn=DATA_ARN,
    experiments_bucket_arn=EXPERIMENTS_ARN,
    kms_key_arn=KEY_ARN,
    region="us-east-1",
)


def job_with(args: KubernetesTrainJobArgs = BASE, **changes: Any) -> KubernetesTrainJobArgs:
    """``args`` with ``changes`` to its job entry (unchecked: the component's checks run)."""
    return dataclasses.replace(args, job=args.job.model_copy(update=changes))


def deploy(args: KubernetesTrainJobArgs) -> PlanRun:
    return run_on_cluster(
        lambda cluster, opts: KubernetesTrainJob("churn-ddp", args, cluster, opts).exports()
    )


def node_job(run: PlanRun) -> dict[str, Any]:
    (replicated,) = one(run, RUNTIME).inputs["spec"]["template"]["spec"]["replicatedJobs"]
    return replicated


def node_pod(run: PlanRun) -> dict[str, Any]:
    return node_job(run)["template"]["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


@pytest.fixture(scope="module")
def gpu() -> PlanRun:
    return deploy(BASE)


@pytest.fixture(scope="module")
def cpu() -> PlanRun:
    return deploy(
        job_with(nodes=3, gpus_per_node=0, resources=ResourcesConfig(cpu="4", memory="16Gi"))
    )


@pytest.mark.parametrize(("fixture", "world_size"), [("gpu", 8), ("cpu", 3)])
def test_nodes_times_processes_per_node_is_the_world_size(
    fixture: str, world_size: int, request: pytest.FixtureRequest
) -> None:
    # given a job of nodes x gpus (or CPU pods)
    run: PlanRun = request.getfixturevalue(fixture)
    # when the TrainJob's trainer and the runtime's torch policy are read
    trainer = one(run, TRAIN_JOB).inputs["spec"]["trainer"]
    policy = one(run, RUNTIME).inputs["spec"]["mlPolicy"]
    # then both spell the same explicit layout, never "auto" (a CPU count on CPU pods)
    assert trainer["numNodes"] * trainer["numProcPerNode"] == world_size
    assert (policy["numNodes"], policy["torch"]["numProcPerNode"]) == (
        trainer["numNodes"],
        trainer["numProcPerNode"],
    )
    assert run.exports["world_size"] == world_size


def test_the_trainer_runs_torchrun_on_the_entrypoint_with_its_resources(gpu: PlanRun) -> None:
    trainer = one(gpu, TRAIN_JOB).inputs["spec"]["trainer"]
    assert (trainer["command"], trainer["args"]) == (["torchrun"], ["-m", "workloads.training"])
    assert trainer["image"] == f"{BASE.image_repository}:1.0.0-gpu"
    assert trainer["resourcesPerNode"] == {
        "requests": {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "4"},
        "limits": {"cpu": "16", "memory": "64Gi", "nvidia.com/gpu": "4"},
    }
    assert not any(name.startswith("PET_") for name in env_of(trainer))


def test_checkpoint_and_model_uris_reach_the_trainer(gpu: PlanRun) -> None:
    env = env_of(one(gpu, TRAIN_JOB).inputs["spec"]["trainer"])
    assert env[s3_sync.CHECKPOINT_S3_URI_ENV] == BASE.checkpoint_uri
    assert env[s3_sync.MODEL_S3_URI_ENV] == BASE.model_uri
    # the component spells the workloads' names (it may not import them)
    assert gpu.exports["model_archive"] == f"{BASE.model_uri}/model.tar.gz"


def test_the_runtime_is_the_layout_the_torch_plugin_overrides(gpu: PlanRun) -> None:
    replicated = node_job(gpu)
    assert replicated["name"] == "node"
    assert replicated["template"]["metadata"]["labels"] == {
        "trainer.kubeflow.org/trainjob-ancestor-step": "trainer"
    }
    (container,) = node_pod(gpu)["containers"]
    assert container["name"] == "node"
    ref = one(gpu, TRAIN_JOB).inputs["spec"]["runtimeRef"]
    assert ref == {
        "name": "churn-ddp-runtime",
        "apiGroup": "trainer.kubeflow.org",
        "kind": "TrainingRuntime",
    }
    assert one(gpu, RUNTIME).inputs["metadata"]["name"] == "churn-ddp-runtime"


def test_retries_restart_the_whole_group_and_each_attempt_has_a_deadline(gpu: PlanRun) -> None:
    jobset = one(gpu, RUNTIME).inputs["spec"]["template"]["spec"]
    job = node_job(gpu)["template"]["spec"]
    assert jobset["failurePolicy"] == {"maxRestarts": 5}
    assert job["backoffLimit"] == 0
    assert job["activeDeadlineSeconds"] == 7200
    assert node_pod(gpu)["restartPolicy"] == "Never"


def test_the_train_job_does_not_hold_pulumi_up_and_is_replaced_on_change(gpu: PlanRun) -> None:
    job = one(gpu, TRAIN_JOB)
    assert job.inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    assert job.delete_before_replace is True
    assert one(gpu, RUNTIME).urn in job.depends_on


def test_the_init_container_stages_the_contract_from_s3(gpu: PlanRun) -> None:
    (stage,) = node_pod(gpu)["initContainers"]
    command = stage["command"]
    assert command[:4] == ["python", "-m", "workloads.training.s3_sync", "stage"]
    pairs = list(zip(command[4::2], command[5::2], strict=True))
    arguments = dict(pairs)
    assert json.loads(arguments["--hyperparameters"]) == {
        "algorithm": "pytorch",
        "task": "classification",
        "target": "churned",
        "epochs": 20,
        "learning_rate": 0.001,
    }
    assert [value for flag, value in pairs if flag == "--channel"] == [
        f"train={BASE.train_uri}",
        f"validation={BASE.validation_uri}",
    ]
    assert arguments["--checkpoints"] == BASE.checkpoint_uri
    # and the staging CLI accepts exactly that command line
    parsed = s3_sync.build_parser().parse_args(command[3:])
    assert parsed.checkpoints == BASE.checkpoint_uri


def test_every_written_path_is_an_emptydir_and_the_pods_meet_the_restricted_rules(
    gpu: PlanRun,
) -> None:
    found = list(pod_templates(one(gpu, RUNTIME)))
    assert len(found) == 1
    assert [problem for where, pod in found for problem in pod_template_problems(where, pod)] == []
    pod = node_pod(gpu)
    (container,) = pod["containers"]
    mounted = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert mounted == {
        "/opt/ml/input",
        "/opt/ml/model",
        "/opt/ml/output",
        "/opt/ml/checkpoints",
        "/tmp",
    }
    assert all("emptyDir" in volume for volume in pod["volumes"])
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "churn-ddp-trainer"
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_cpu_pods_stay_off_the_gpu_nodes(cpu: PlanRun) -> None:
    pod = node_pod(cpu)
    assert "tolerations" not in pod
    assert "nodeSelector" not in pod


def test_the_role_reaches_only_the_job_prefixes(gpu: PlanRun) -> None:
    statements = {
        s["Sid"]: s for s in json.loads(one(gpu, ROLE_POLICY).inputs["policy"])["Statement"]
    }
    assert statements["ReadChannels"]["Action"] == "s3:GetObject"
    assert statements["ReadChannels"]["Resource"] == [
        f"{DATA_ARN}/churn/train/*",
        f"{DATA_ARN}/churn/validation/*",
    ]
    assert statements["ListChannels"]["Condition"] == {
        "StringLike": {"s3:prefix": ["churn/train/*", "churn/validation/*"]}
    }
    assert statements["ReadWriteOutputs"]["Resource"] == [
        f"{EXPERIMENTS_ARN}/k8s/churn-ddp/checkpoints/*",
        f"{EXPERIMENTS_ARN}/k8s/churn-ddp/model/*",
    ]
    assert statements["ListOutputs"]["Resource"] == EXPERIMENTS_ARN
    assert statements["UsePlatformKeyThroughS3"]["Resource"] == KEY_ARN
    every_resource = json.dumps([s["Resource"] for s in statements.values()])
    assert '"*"' not in every_resource


def test_invalid_args_are_reported_together() -> None:
    args = job_with(
        dataclasses.replace(BASE, train_uri="churn/train"),
        algorithm="xgboost",
        gpus_per_node=2,
        image=ImageConfig.model_construct(repository="ml-platform/training", tag="latest"),
    )
    with pytest.raises(ValueError) as raised:
        deploy(args)
    assert str(raised.value) == (
        "Invalid training job churn-ddp: train_uri: 'churn/train' is not s3://<bucket>/<prefix>; "
        "image_tag: image 123456789012.dkr.ecr.us-east-1.amazonaws.com/ml-platform/training: "
        "tag 'latest' is not pinned (never 'latest')"
    )
