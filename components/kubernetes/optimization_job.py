"""KubernetesOptimizationJob: an OR-Tools solve as a Kubernetes Job, in SageMaker's contract.

The same workload as the optimization layer's SageMaker jobs (``python -m workloads.optimization``
in our training image), in the training namespace under the restricted pod rules the layer's
other workloads follow (:mod:`components.kubernetes.pod_security`): non-root, read-only root
filesystem, no privilege escalation, every capability dropped, an emptyDir on each folder written
(the training contract's, as the TrainJobs mount them), no Kubernetes API token.

* The init container ``stage`` lays out the contract under ``/opt/ml`` with the training code's
  S3 functions (:mod:`workloads.training.s3_sync`; its ``stage`` command insists on a ``train``
  channel, so :data:`STAGE_PROGRAM` calls them itself): ``hyperparameters.json`` (``kind``, the
  time limits, ``workers``), the ``problem`` channel downloaded from the processed bucket, and
  the newest intact checkpoint under ``k8s/optimization/<name>/checkpoints/`` of the experiments
  bucket, so a restarted pod resumes from the incumbent.
* The container ``solve`` does what SageMaker does around a job: :data:`SOLVE_PROGRAM` runs
  ``python -m workloads.optimization`` (which, in the contract, uploads its checkpoints as it
  writes them to ``ML_PLATFORM_CHECKPOINT_S3_URI``), forwards the pod's SIGTERM to it, and then
  uploads ``/opt/ml/model`` (``solution.json``, ``report.html``) as ``model.tar.gz`` to
  ``ML_PLATFORM_MODEL_S3_URI``, as SageMaker uploads a job's model.
* A pod failure is retried ``backoff_limit`` times, each retry resuming from the checkpoint; a
  solve stopped by SIGTERM (a node drain) exits 143 after its final checkpoint and the upload,
  so the Job retries it rather than taking the interrupted incumbent as its result.
  ``activeDeadlineSeconds`` bounds the whole Job; SIGTERM gets ``terminationGracePeriodSeconds``
  (120 s, like a spot notice).
* The pod's service account has its own IAM role (IRSA): read the problem's prefix, read and
  write the job's checkpoints and solution, use the platform key through S3; nothing else.
* The Job is annotated ``pulumi.com/skipAwait`` (a long solve must not hold ``pulumi up``); its
  pod template is immutable, so a change replaces it (a new run that resumes from the checkpoints).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.pod_security import (
    container_security_context,
    image_tag_problems,
    pinned_image,
    pod_security_context,
    resource_requirements,
)
from components.kubernetes.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs
from components.kubernetes.spec import KubernetesOptimizationJobConfig
from components.kubernetes.train_job import (
    S3_PREFIX_URI,
    SKIP_AWAIT_ANNOTATION,
    TERMINATION_GRACE_SECONDS,
    contract_environment,
    contract_mounts,
    contract_volumes,
    s3_prefix,
    staging_container,
    upload_environment,
)
from components.shared import iam_policies
from components.shared.optimization_job import solver_hyperparameters

#: The containers: the init container that stages the contract, and the one that solves.
STAGING_CONTAINER, SOLVE_CONTAINER = "stage", "solve"

#: The module the solve container runs (the image's installed package).
SOLVE_MODULE = "workloads.optimization"

#: The solve container's program (``python -c``; argument: the module to run). It exits with the
#: solve's status, 143 when the pod was asked to stop, and 1 when the upload failed.
SOLVE_PROGRAM = """\
import os, signal, subprocess, sys
from workloads.training import contract
solve = subprocess.Popen([sys.executable, "-m", sys.argv[1]])
stopping = []
def forward(number, frame):
    stopping.append(number)
    solve.send_signal(signal.SIGTERM)
signal.signal(signal.SIGTERM, forward)
status = solve.wait()
status = 128 - status if status < 0 else status
model = contract.root_from(os.environ) / contract.MODEL_DIR
target = os.environ.get(contract.MODEL_S3_URI_ENV, "")
if target and model.is_dir() and any(model.iterdir()):
    from workloads.training.s3_sync import S3SyncError, S3Uri, s3_client, upload_model
    try:
        uri = S3Uri.parse(target, contract.MODEL_S3_URI_ENV)
        print(f"solution uploaded to {upload_model(s3_client(), model, uri)}", flush=True)
    except S3SyncError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        status = status or 1
sys.exit(128 + signal.SIGTERM if stopping and status == 0 else status)
"""

#: The init container's program (``python -c``; arguments: the hyperparameters as JSON, the
#: problem's and the checkpoints' S3 URIs). One line on stderr and exit 1 when S3 fails it.
STAGE_PROGRAM = """\
import os, sys
from workloads.training import contract
from workloads.training.s3_sync import (
    S3SyncError, S3Uri, download_newest_checkpoint, download_prefix, s3_client)
hyperparameters, problem, checkpoints = sys.argv[1:4]
root = contract.root_from(os.environ)
config = root / contract.HYPERPARAMETERS_FILE
config.parent.mkdir(parents=True, exist_ok=True)
config.write_text(hyperparameters)
try:
    client = s3_client()
    files = download_prefix(
        client, S3Uri.parse(problem, "problem"), root / contract.DATA_DIR / "problem")
    print(f"channel problem: {len(files)} files from {problem}", flush=True)
    found = download_newest_checkpoint(
        client, S3Uri.parse(checkpoints, "checkpoints"), contract.checkpoint_dir_for(root, ""))
except S3SyncError as error:
    print(f"error: {error}", file=sys.stderr, flush=True)
    sys.exit(1)
print(f"resuming from {found.name}" if found else f"no checkpoint in {checkpoints}", flush=True)
"""


@dataclass(frozen=True)
class KubernetesOptimizationJobArgs:
    """What a KubernetesOptimizationJob needs besides its config: where it runs, reads, writes."""

    job: KubernetesOptimizationJobConfig
    """The ``kubernetes.optimization_jobs`` entry."""
    namespace: str
    """The training namespace."""
    image_repository: pulumi.Input[str]
    """Repository URL of ``job.image`` in this account's ECR."""
    problem_uri: pulumi.Input[str]
    """``s3://<processed bucket>/<problem prefix>``: the ``problem`` channel."""
    solution_uri: pulumi.Input[str]
    """``s3://<experiments bucket>/k8s/optimization/<name>/solution``: the solution."""
    checkpoint_uri: pulumi.Input[str]
    """``s3://<experiments bucket>/k8s/optimization/<name>/checkpoints``: resumed from."""
    data_bucket_arn: pulumi.Input[str]
    """ARN of the processed bucket (read only, the problem's prefix only)."""
    experiments_bucket_arn: pulumi.Input[str]
    """ARN of the bucket of the solution and checkpoints (their prefixes only)."""
    kms_key_arn: pulumi.Input[str]
    """The platform key the objects are encrypted with."""
    region: str
    """The stack's region (the key is usable only through S3 in it)."""


def validate(args: KubernetesOptimizationJobArgs) -> None:
    """Raise one ValueError listing every invalid field of ``args`` (URIs once they are known)."""
    problems = [
        f"{key}: '{uri}' is not s3://<bucket>/<prefix>"
        for key, uri in (
            ("problem_uri", args.problem_uri),
            ("solution_uri", args.solution_uri),
            ("checkpoint_uri", args.checkpoint_uri),
        )
        if isinstance(uri, str) and not S3_PREFIX_URI.match(uri)
    ]
    problems += image_tag_problems(args.image_repository, args.job.image.tag)
    if problems:
        raise ValueError(f"Invalid optimization job {args.job.name}: " + "; ".join(problems))


def job_statements(
    problem_uri: str,
    solution_uri: str,
    checkpoint_uri: str,
    *,
    data_bucket_arn: str,
    experiments_bucket_arn: str,
    key_arn: str,
    region: str,
) -> list[iam_policies.Statement]:
    """Read the problem's prefix; read and write the checkpoints and the solution; no more."""
    problem = s3_prefix(problem_uri)
    outputs = [s3_prefix(checkpoint_uri), s3_prefix(solution_uri)]
    return [
        {
            "Sid": "ListProblem",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": data_bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{problem}/*"]}},
        },
        {
            "Sid": "ReadProblem",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{data_bucket_arn}/{problem}/*",
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
        iam_policies.kms_via_s3_statement(key_arn, region),
    ]


def staging_command(args: KubernetesOptimizationJobArgs) -> list[pulumi.Input[str]]:
    """The init container's command: hyperparameters, the problem, the newest checkpoint."""
    job = args.job
    hyperparameters = solver_hyperparameters(job.kind, job.time_limits, job.workers)
    return [
        "python",
        "-c",
        STAGE_PROGRAM,
        json.dumps(hyperparameters, sort_keys=True),
        args.problem_uri,
        args.checkpoint_uri,
    ]


def solve_environment(args: KubernetesOptimizationJobArgs) -> list[k8s.core.v1.EnvVarArgs]:
    """The solve container's environment: where checkpoints and the solution go on S3."""
    return upload_environment(args.region, args.checkpoint_uri, args.solution_uri)


def pod_spec(args: KubernetesOptimizationJobArgs, service_account: str) -> k8s.core.v1.PodSpecArgs:
    """The solver's pod: staging init container, then the solve container."""
    job = args.job
    image = pinned_image(args.image_repository, job.image.tag)
    resources = job.resources
    return k8s.core.v1.PodSpecArgs(
        service_account_name=service_account,
        # Nothing in the pod calls the Kubernetes API; the IRSA token is its own projected volume.
        automount_service_account_token=False,
        restart_policy="Never",  # the Job makes a new pod, which resumes from the checkpoint
        termination_grace_period_seconds=TERMINATION_GRACE_SECONDS,
        security_context=pod_security_context(),
        init_containers=[
            staging_container(
                STAGING_CONTAINER, image, staging_command(args), contract_environment(args.region)
            )
        ],
        containers=[
            k8s.core.v1.ContainerArgs(
                name=SOLVE_CONTAINER,
                image=image,
                command=["python", "-c", SOLVE_PROGRAM, SOLVE_MODULE],
                env=solve_environment(args),
                resources=resource_requirements(
                    resources.cpu, resources.memory, resources.cpu_limit
                ),
                security_context=container_security_context(),
                volume_mounts=contract_mounts(),
            )
        ],
        volumes=contract_volumes(),
    )


class KubernetesOptimizationJob(pulumi.ComponentResource):
    """A Kubernetes Job that solves one problem, with its IRSA role."""

    job: k8s.batch.v1.Job
    """The Job."""
    role: ServiceAccountRole
    """The pod's service account and IAM role."""

    def __init__(
        self,
        name: str,
        args: KubernetesOptimizationJobArgs,
        cluster: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:kubernetes:KubernetesOptimizationJob", name, None, opts)
        validate(args)
        self.args = args
        spec = args.job
        service_account = f"{spec.name}-solver"
        self.role = ServiceAccountRole(
            f"{name}-solver",
            ServiceAccountRoleArgs(
                namespace=args.namespace,
                service_account=service_account,
                statements=pulumi.Output.all(
                    args.problem_uri,
                    args.solution_uri,
                    args.checkpoint_uri,
                    args.data_bucket_arn,
                    args.experiments_bucket_arn,
                    args.kms_key_arn,
                ).apply(
                    lambda values: job_statements(
                        values[0],
                        values[1],
                        values[2],
                        data_bucket_arn=values[3],
                        experiments_bucket_arn=values[4],
                        key_arn=values[5],
                        region=args.region,
                    )
                ),
                description=f"Optimization job {spec.name}: its problem, checkpoints, solution",
            ),
            cluster,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.job = k8s.batch.v1.Job(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=spec.name,
                namespace=args.namespace,
                labels={"app.kubernetes.io/component": "optimization"},
                annotations={SKIP_AWAIT_ANNOTATION: "true"},
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=spec.backoff_limit,
                active_deadline_seconds=spec.active_deadline_seconds,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels={"app.kubernetes.io/component": "optimization"}
                    ),
                    spec=pod_spec(args, service_account),
                ),
            ),
            # The pod template is immutable once created: a change is a new Job (same name).
            opts=cluster.options(
                self,
                depends_on=[self.role],
                replace_on_changes=["spec"],
                delete_before_replace=True,
            ),
        )
        self.register_outputs({"name": spec.name})

    def exports(self) -> dict[str, object]:
        """What the stack exports: the Job, what it solves, where its outputs land, its role."""
        return {
            "name": self.args.job.name,
            "namespace": self.args.namespace,
            "kind": self.args.job.kind,
            "solution_uri": self.args.solution_uri,
            "checkpoint_uri": self.args.checkpoint_uri,
            "role_arn": self.role.role.arn,
        }
