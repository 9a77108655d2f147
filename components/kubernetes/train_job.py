"""KubernetesTrainJob: distributed training as a Kubeflow Trainer v2 TrainJob on our own runtime.

Checked against Kubeflow Trainer v2.1.0 (the version components.kubernetes.cluster_operators
installs; pkg/apis/trainer/v1alpha1 and pkg/runtime/framework/plugins/torch in kubeflow/trainer):

* A namespaced ``TrainingRuntime`` of our own, so we own the pod: restricted security, emptyDir
  volumes for everything written, an init container that stages the data, the IRSA service
  account. Its JobSet has one replicated job named ``node`` labelled
  ``trainer.kubeflow.org/trainjob-ancestor-step: trainer``, whose container is named ``node``:
  the torch plugin overrides exactly that container with the TrainJob's ``trainer`` (image,
  command, args, env, resources) and sets torchrun's ``PET_NNODES``, ``PET_NPROC_PER_NODE``,
  ``PET_NODE_RANK``, ``PET_MASTER_ADDR`` (``<job>-node-0-0.<job>``) and ``PET_MASTER_PORT``.
* ``numProcPerNode`` is always an explicit integer: with ``auto`` and no GPU the plugin would
  start one process per CPU of the limit, and our world size is one process per GPU, or one per
  pod on CPU. It is set on the runtime's ``mlPolicy.torch`` (v2.1) and on the TrainJob's
  ``trainer`` (which wins, and which Trainer v2.2 keeps after removing the runtime field,
  kubeflow/trainer#3239).
* Retries: a failed worker breaks torchrun's group, so one pod failure fails its Job
  (``backoffLimit: 0``) and the JobSet recreates all of them (``failurePolicy.maxRestarts``);
  each restart resumes from the newest checkpoint on S3.
* Deadline: v2.1 has no TrainJob-level deadline (``spec.activeDeadlineSeconds`` arrives in
  v2.2), so each attempt's Job carries ``activeDeadlineSeconds``.
* The TrainJob is annotated ``pulumi.com/skipAwait``: a long job must not hold ``pulumi up``.
  Its spec is immutable, so a change replaces it (a new run that resumes from the checkpoints).

Inside the pod, ``python -m workloads.training.s3_sync stage`` (init container) lays out
SageMaker's training contract under ``/opt/ml`` from S3, ``torchrun -m workloads.training`` then
trains as it would on SageMaker, and rank 0 uploads checkpoints and ``model.tar.gz``
(``ML_PLATFORM_CHECKPOINT_S3_URI``, ``ML_PLATFORM_MODEL_S3_URI``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.pod_security import (
    SCRATCH_PATH,
    container_security_context,
    gpu_node_selector,
    gpu_tolerations,
    image_tag_problems,
    pinned_image,
    pod_security_context,
    resource_requirements,
    scratch_environment,
    scratch_mount,
    scratch_volume,
)
from components.kubernetes.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs
from components.kubernetes.spec import KubernetesTrainingJobConfig
from components.shared import iam_policies
from workloads.training import contract

#: The Trainer API this component writes.
API_VERSION = "trainer.kubeflow.org/v1alpha1"

#: The replicated job and container names the torch plugin looks for, and its ancestor label.
NODE = "node"
ANCESTOR_LABEL = "trainer.kubeflow.org/trainjob-ancestor-step"
TRAINER_STEP = "trainer"

#: pulumi-kubernetes: do not wait for the resource to become ready.
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"


#: The training contract's root and the folders under it that the pod writes.
CONTRACT_ROOT = contract.DEFAULT_ROOT
STAGING_INIT_CONTAINER = "stage"

#: emptyDir volumes (name, mount path, size limit): the root filesystem is read-only.
VOLUMES = (
    ("input", f"{CONTRACT_ROOT}/{contract.INPUT_DIR}", "20Gi"),
    ("model", f"{CONTRACT_ROOT}/{contract.MODEL_DIR}", "10Gi"),
    ("output", f"{CONTRACT_ROOT}/{contract.OUTPUT_DIR}", "1Gi"),
    ("checkpoints", f"{CONTRACT_ROOT}/{contract.CHECKPOINT_DIR}", "20Gi"),
    ("scratch", SCRATCH_PATH, "2Gi"),
)

#: torchrun gives workers 30 s after SIGTERM; then rank 0 uploads the final checkpoint.
TERMINATION_GRACE_SECONDS = 120

#: Resources of the staging init container (it only downloads).
STAGING_RESOURCES = ("250m", "512Mi")

S3_PREFIX_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(\S+?)/?$")
"""``s3://<bucket>/<prefix>``, the form every channel, output and checkpoint URI of a job takes."""
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")


@dataclass(frozen=True)
class KubernetesTrainJobArgs:
    """What a KubernetesTrainJob needs besides its config entry: where it runs, reads and writes."""

    job: KubernetesTrainingJobConfig
    """The ``kubernetes.training_jobs`` entry: name, image, algorithm, layout, retries, limits."""
    namespace: str
    """The training namespace."""
    image_repository: pulumi.Input[str]
    """Repository URL of ``job.image`` (our training image, docker/training.Dockerfile) in this
    account's ECR."""
    train_uri: pulumi.Input[str]
    """``s3://<processed bucket>/<prefix>``: the training channel."""
    model_uri: pulumi.Input[str]
    """``s3://<experiments bucket>/k8s/<name>/model``: where ``model.tar.gz`` goes."""
    checkpoint_uri: pulumi.Input[str]
    """``s3://<experiments bucket>/k8s/<name>/checkpoints``: checkpoints, resumed from."""
    data_bucket_arn: pulumi.Input[str]
    """ARN of the bucket of the channels (read only, their prefixes only)."""
    experiments_bucket_arn: pulumi.Input[str]
    """ARN of the bucket of the model and checkpoints (read/write, their prefixes only)."""
    kms_key_arn: pulumi.Input[str]
    """The platform key the objects are encrypted with."""
    region: str
    """The stack's region (the key is usable only through S3 in it)."""
    validation_uri: pulumi.Input[str] | None = None
    """``s3://<processed bucket>/<prefix>``: the validation channel; None splits the training
    data."""


def s3_prefix(uri: str) -> str:
    """The prefix of an :data:`S3_PREFIX_URI` (no trailing slash); ValueError for another form."""
    match = S3_PREFIX_URI.match(uri)
    if match is None:
        raise ValueError(f"'{uri}' is not s3://<bucket>/<prefix>")
    return match[2]


def validate(args: KubernetesTrainJobArgs) -> None:
    """Raise one ValueError listing every invalid field of ``args``.

    The name must also be an RFC 1035 label short enough for the pods' suffixes, and the S3 URIs
    (derived from the buckets) must be ``s3://<bucket>/<prefix>``.
    """
    job, problems = args.job, []
    if not _NAME.match(job.name):
        problems.append(f"name: '{job.name}' is not an RFC 1035 label of at most 40 characters")
    uris = {
        "train_uri": args.train_uri,
        "validation_uri": args.validation_uri,
        "model_uri": args.model_uri,
        "checkpoint_uri": args.checkpoint_uri,
    }
    for key, uri in uris.items():
        # Outputs (a bucket's generated name) are checked when known, in the role's policy.
        if isinstance(uri, str) and not S3_PREFIX_URI.match(uri):
            problems.append(f"{key}: '{uri}' is not s3://<bucket>/<prefix>")
    problems += image_tag_problems(args.image_repository, job.image.tag)
    if problems:
        raise ValueError(f"Invalid training job {job.name}: " + "; ".join(problems))


def job_statements(
    args: KubernetesTrainJobArgs, data_bucket_arn: str, experiments_bucket_arn: str, key_arn: str
) -> list[iam_policies.Statement]:
    """Read the channels' prefixes; read and write the checkpoint and model prefixes; no more."""
    channels = [s3_prefix(uri) for uri in (args.train_uri, args.validation_uri) if uri]
    outputs = [s3_prefix(args.checkpoint_uri), s3_prefix(args.model_uri)]
    return [
        {
            "Sid": "ListChannels",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": data_bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in channels]}},
        },
        {
            "Sid": "ReadChannels",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [f"{data_bucket_arn}/{p}/*" for p in channels],
        },
        {
            "Sid": "ListOutputs",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": experiments_bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in outputs]}},
        },
        {
            # Checkpoints are pruned as the local store prunes them (DeleteObject).
            "Sid": "ReadWriteOutputs",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [f"{experiments_bucket_arn}/{p}/*" for p in outputs],
        },
        iam_policies.kms_via_s3_statement(key_arn, args.region),
    ]


def hyperparameters_json(args: KubernetesTrainJobArgs) -> str:
    """The job's ``hyperparameters.json`` content: the shared keys and the algorithm's."""
    job = args.job
    values = {
        **job.hyperparameters,
        "algorithm": job.algorithm,
        "task": job.task,
        "target": job.target,
    }
    return json.dumps(values, sort_keys=True)


def staging_command(args: KubernetesTrainJobArgs) -> list[pulumi.Input[str]]:
    """The init container's command: the contract from S3, and the newest checkpoint."""
    command = ["python", "-m", "workloads.training.s3_sync", "stage"]
    command += ["--hyperparameters", hyperparameters_json(args)]
    command += ["--channel", pulumi.Output.concat("train=", args.train_uri)]
    if args.validation_uri:
        command += ["--channel", pulumi.Output.concat("validation=", args.validation_uri)]
    return [*command, "--checkpoints", args.checkpoint_uri]


def _mount(name: str, path: str, read_only: bool = False) -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name=name, mount_path=path, read_only=read_only or None)


def contract_environment(region: pulumi.Input[str]) -> list[k8s.core.v1.EnvVarArgs]:
    """Every contract container's environment: scratch homes, the region, regional STS."""
    return [
        # Homes and caches (MLflow, torch) go to scratch.
        *scratch_environment(),
        k8s.core.v1.EnvVarArgs(name="AWS_DEFAULT_REGION", value=region),
        k8s.core.v1.EnvVarArgs(name="AWS_STS_REGIONAL_ENDPOINTS", value="regional"),
    ]


def upload_environment(
    region: pulumi.Input[str], checkpoint_uri: pulumi.Input[str], output_uri: pulumi.Input[str]
) -> list[k8s.core.v1.EnvVarArgs]:
    """The main container's environment: where its checkpoints and its output go on S3."""
    return [
        *contract_environment(region),
        k8s.core.v1.EnvVarArgs(name=contract.CHECKPOINT_S3_URI_ENV, value=checkpoint_uri),
        k8s.core.v1.EnvVarArgs(name=contract.MODEL_S3_URI_ENV, value=output_uri),
    ]


def _environment(args: KubernetesTrainJobArgs) -> list[k8s.core.v1.EnvVarArgs]:
    return contract_environment(args.region)


def trainer_env(args: KubernetesTrainJobArgs) -> list[k8s.core.v1.EnvVarArgs]:
    """The TrainJob's trainer environment: where checkpoints and the model go on S3."""
    return upload_environment(args.region, args.checkpoint_uri, args.model_uri)


def trainer_command() -> tuple[list[str], list[str]]:
    """``torchrun -m workloads.training``; torchrun reads its layout from ``PET_*`` variables."""
    return ["torchrun"], ["-m", "workloads.training"]


def node_pod_spec(args: KubernetesTrainJobArgs, service_account: str) -> k8s.core.v1.PodSpecArgs:
    """The pod of every training node: staging init container, then the trainer container."""
    job = args.job
    image = pinned_image(args.image_repository, job.image.tag)
    command, arguments = trainer_command()
    return k8s.core.v1.PodSpecArgs(
        service_account_name=service_account,
        # Nothing in the pod calls the Kubernetes API; the IRSA token is its own projected volume.
        automount_service_account_token=False,
        restart_policy="Never",  # a failure fails the Job; the JobSet restarts the whole group
        termination_grace_period_seconds=TERMINATION_GRACE_SECONDS,
        security_context=pod_security_context(),
        init_containers=[
            staging_container(
                STAGING_INIT_CONTAINER, image, staging_command(args), _environment(args)
            )
        ],
        containers=[
            k8s.core.v1.ContainerArgs(
                name=NODE,
                image=image,
                command=command,
                args=arguments,
                env=trainer_env(args),
                resources=node_resources(job),
                security_context=container_security_context(),
                volume_mounts=contract_mounts(),
            )
        ],
        volumes=contract_volumes(),
        tolerations=gpu_tolerations(job.gpus_per_node),
        node_selector=gpu_node_selector(job.gpus_per_node),
    )


def staging_container(
    name: str,
    image: pulumi.Input[str],
    command: list[pulumi.Input[str]],
    env: list[k8s.core.v1.EnvVarArgs],
) -> k8s.core.v1.ContainerArgs:
    """The init container that lays out SageMaker's contract from S3 before the main container.

    It writes the input channels and the newest intact checkpoint under :data:`CONTRACT_ROOT`
    (``command``), restricted like every container, with the staging resources.
    """
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=image,
        command=command,
        env=env,
        resources=resource_requirements(*STAGING_RESOURCES),
        security_context=container_security_context(),
        volume_mounts=[
            _mount("input", f"{CONTRACT_ROOT}/{contract.INPUT_DIR}"),
            _mount("checkpoints", f"{CONTRACT_ROOT}/{contract.CHECKPOINT_DIR}"),
            scratch_mount(),
        ],
    )


def contract_mounts() -> list[k8s.core.v1.VolumeMountArgs]:
    """The main container's mounts of the contract's folders (:data:`VOLUMES`)."""
    return [_mount(name, path) for name, path, _ in VOLUMES]


def contract_volumes() -> list[k8s.core.v1.VolumeArgs]:
    """The pod's scratch volumes behind the contract's folders (:data:`VOLUMES`)."""
    return [scratch_volume(name, size) for name, _, size in VOLUMES]


def node_resources(job: KubernetesTrainingJobConfig) -> k8s.core.v1.ResourceRequirementsArgs:
    """Each node pod's requests and limits: the job's CPU and memory, and its GPUs per node."""
    resources = job.resources
    return resource_requirements(
        resources.cpu, resources.memory, resources.cpu_limit, job.gpus_per_node
    )


def runtime_spec(args: KubernetesTrainJobArgs, service_account: str) -> dict[str, object]:
    """The TrainingRuntime's spec: torch policy and the JobSet of ``nodes`` node pods."""
    spec = args.job
    job = k8s.batch.v1.JobTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels={ANCESTOR_LABEL: TRAINER_STEP}),
        spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=0,
            active_deadline_seconds=spec.active_deadline_seconds,
            template=k8s.core.v1.PodTemplateSpecArgs(spec=node_pod_spec(args, service_account)),
        ),
    )
    return {
        "mlPolicy": {"numNodes": spec.nodes, "torch": {"numProcPerNode": spec.procs_per_node}},
        "template": {
            "spec": {
                "failurePolicy": {"maxRestarts": spec.backoff_limit},
                "replicatedJobs": [{"name": NODE, "replicas": 1, "template": job}],
            }
        },
    }


def trainer_spec(args: KubernetesTrainJobArgs) -> dict[str, object]:
    """The TrainJob's ``trainer``: nodes x processes per node = the world size."""
    command, arguments = trainer_command()
    job = args.job
    return {
        "image": pinned_image(args.image_repository, job.image.tag),
        "command": command,
        "args": arguments,
        "env": trainer_env(args),
        "numNodes": job.nodes,
        "numProcPerNode": job.procs_per_node,
        "resourcesPerNode": node_resources(job),
    }


def job_role(
    name: str,
    args: KubernetesTrainJobArgs,
    service_account: str,
    cluster: ClusterAccess,
    parent: pulumi.Resource,
) -> ServiceAccountRole:
    """The nodes' service account and IAM role: the job's prefixes once the bucket names exist."""
    return ServiceAccountRole(
        name,
        ServiceAccountRoleArgs(
            namespace=args.namespace,
            service_account=service_account,
            statements=pulumi.Output.all(
                args.data_bucket_arn,
                args.experiments_bucket_arn,
                args.kms_key_arn,
                args.train_uri,
                args.validation_uri,
                args.model_uri,
                args.checkpoint_uri,
            ).apply(
                lambda values: job_statements(
                    dataclasses.replace(
                        args,
                        train_uri=values[3],
                        validation_uri=values[4],
                        model_uri=values[5],
                        checkpoint_uri=values[6],
                    ),
                    values[0],
                    values[1],
                    values[2],
                )
            ),
            description=f"Training job {args.job.name}: its data, checkpoints and model",
        ),
        cluster,
        opts=pulumi.ResourceOptions(parent=parent),
    )


class KubernetesTrainJob(pulumi.ComponentResource):
    """A Kubeflow TrainJob on a TrainingRuntime of our own, with its IRSA role."""

    runtime: k8s.apiextensions.CustomResource
    """The TrainingRuntime (the pod template)."""
    train_job: k8s.apiextensions.CustomResource
    """The TrainJob."""
    role: ServiceAccountRole
    """The nodes' service account and IAM role."""

    def __init__(
        self,
        name: str,
        args: KubernetesTrainJobArgs,
        cluster: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:kubernetes:KubernetesTrainJob", name, None, opts)
        validate(args)
        self.args = args
        service_account = f"{args.job.name}-trainer"
        self.role = job_role(f"{name}-trainer", args, service_account, cluster, self)
        runtime_name = f"{args.job.name}-runtime"
        self.runtime = k8s.apiextensions.CustomResource(
            f"{name}-runtime",
            api_version=API_VERSION,
            kind="TrainingRuntime",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=runtime_name,
                namespace=args.namespace,
                labels={"trainer.kubeflow.org/framework": "torch"},
            ),
            spec=runtime_spec(args, service_account),
            opts=cluster.options(self),
        )
        self.train_job = k8s.apiextensions.CustomResource(
            name,
            api_version=API_VERSION,
            kind="TrainJob",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.job.name,
                namespace=args.namespace,
                annotations={SKIP_AWAIT_ANNOTATION: "true"},
            ),
            spec={
                "runtimeRef": {
                    "name": runtime_name,
                    "apiGroup": "trainer.kubeflow.org",
                    "kind": "TrainingRuntime",
                },
                "trainer": trainer_spec(args),
            },
            # The spec is immutable once created: a change is a new TrainJob (same name).
            opts=cluster.options(
                self,
                depends_on=[self.runtime, self.role],
                replace_on_changes=["spec"],
                delete_before_replace=True,
            ),
        )
        self.register_outputs({"name": args.job.name, "world_size": args.job.world_size})

    def exports(self) -> dict[str, object]:
        """What the stack exports: the job, its world size, where its outputs land, its role."""
        return {
            "name": self.args.job.name,
            "namespace": self.args.namespace,
            "world_size": self.args.job.world_size,
            "model_archive": pulumi.Output.from_input(self.args.model_uri).apply(
                lambda uri: f"{uri.rstrip('/')}/model.tar.gz"
            ),
            "checkpoint_uri": self.args.checkpoint_uri,
            "role_arn": self.role.role.arn,
        }
