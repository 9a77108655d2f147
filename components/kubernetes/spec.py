"""The Kubernetes layer's input model: the ``kubernetes`` section of a stack."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.shared.hyperparameters import (
    DISTRIBUTED_ALGORITHMS,
    Algorithm,
    Hyperparameters,
    hyperparameters_accepted,
)
from components.shared.optimization_job import (
    MAX_WORKERS,
    ProblemKind,
    TimeLimitsConfig,
    room_after_the_solve,
)
from components.shared.spec_rules import (
    ARTIFACT_KEY,
    MAX_S3_KEY,
    PROJECT_ROOT,
    ImageConfig,
    Section,
    at_least_min_size,
    between_min_and_max_size,
    gpu_instance_types,
    name_fits_validator,
    repeated_names,
    unique_names_validator,
)

#: A Kubernetes object name (RFC 1123 label): what namespaced names and DNS labels allow.
_K8S_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


_MAX_DNS_LABEL = 63


#: Kubernetes quantities: CPU as cores or millicores, memory with a binary or decimal suffix.
_CPU_QUANTITY = r"^(\d+(\.\d{1,3})?|\d+m)$"


_MEMORY_QUANTITY = r"^\d+(Ki|Mi|Gi|Ti|k|M|G|T)?$"


_EC2_INSTANCE_TYPE = r"^[a-z0-9-]+\.\w+$"


#: An S3 key prefix: not empty, no leading '/' (S3 keys are at most 1024 bytes).
_KEY_PREFIX = r"^[\w!\-.*'()][\w!\-.*'()/]*$"


#: An IAM OIDC identity provider's ARN (what an EKS cluster's service-account roles trust).
_OIDC_PROVIDER_ARN = r"^arn:aws[\w-]*:iam::\d{12}:oidc-provider/[\w.\-/]+$"


def _not_open_to_the_internet(value: tuple[str, ...]) -> tuple[str, ...]:
    """CIDRs that may reach a public API endpoint: real ranges, never the whole internet."""
    for cidr in value:
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError:
            raise ValueError(f"'{cidr}' is not a CIDR block") from None
        if network.prefixlen == 0:
            raise ValueError(f"'{cidr}' opens the API to the whole internet")
    return value


class NodeGroupConfig(Section):
    """A managed node group: its instance types and size bounds."""

    instance_types: tuple[Annotated[str, Field(pattern=_EC2_INSTANCE_TYPE)], ...] = ("m6i.large",)
    """EC2 instance types the group may launch (several give spot more pools)."""
    min_size: int = Field(default=2, ge=0, le=100)
    """The fewest nodes."""
    max_size: int = Field(default=4, ge=1, le=100)
    """The most nodes."""
    desired_size: int | None = Field(default=None, ge=0, le=100, validate_default=True)
    """Nodes at creation (later left to the autoscaler); unset starts at min_size."""
    disk_size_gb: int = Field(default=50, ge=20, le=16384)
    """Each node's encrypted root volume."""
    spot: bool = False
    """Run on spot capacity (cheaper; nodes may be reclaimed with two minutes' notice)."""

    @field_validator("instance_types")
    @classmethod
    def _some_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one instance type is required")
        if repeated := repeated_names("instance types", value):
            raise ValueError(repeated)
        return value

    _above_minimum = field_validator("max_size")(at_least_min_size)

    _within_bounds = field_validator("desired_size")(between_min_and_max_size)

    @property
    def initial_size(self) -> int:
        """Nodes at creation."""
        return self.min_size if self.desired_size is None else self.desired_size


class GpuNodeGroupConfig(NodeGroupConfig):
    """The GPU node group: tainted so only pods that ask for GPUs land there."""

    instance_types: tuple[Annotated[str, Field(pattern=_EC2_INSTANCE_TYPE)], ...] = ("g5.xlarge",)
    """EC2 GPU instance types (all with the same GPU count, so a pod's request fits any node)."""
    min_size: int = Field(default=0, ge=0, le=100)
    """The fewest nodes (0: no GPU bill while nothing runs)."""
    max_size: int = Field(default=2, ge=1, le=100)
    """The most nodes."""
    disk_size_gb: int = Field(default=100, ge=20, le=16384)
    """Each node's encrypted root volume (images with CUDA are large)."""

    _gpu_types = field_validator("instance_types")(gpu_instance_types)


class EksClusterConfig(Section):
    """An EKS cluster the stack creates in the data layer's VPC."""

    version: str = Field(default="1.33", pattern=r"^1\.\d{2}$")
    """The Kubernetes minor version."""
    system_nodes: NodeGroupConfig = NodeGroupConfig()
    """On-demand nodes for the platform's controllers, MLflow, JupyterHub and CPU workloads."""
    gpu_nodes: GpuNodeGroupConfig | None = GpuNodeGroupConfig()
    """GPU nodes (tainted ``nvidia.com/gpu``); ``null`` for a cluster without GPUs."""
    admin_role_arns: tuple[
        Annotated[str, Field(pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/.+$")], ...
    ] = ()
    """IAM roles given cluster-admin access (the deployer always has it as the creator)."""
    public_access_cidrs: tuple[str, ...] = ()
    """Opt-in: also expose the API endpoint publicly, to these CIDRs only. Empty: private only."""

    _public_cidrs = field_validator("public_access_cidrs")(_not_open_to_the_internet)


class ExistingClusterConfig(Section):
    """A cluster that exists already (any conformant one with an IAM OIDC provider)."""

    kubeconfig: str | None = Field(default=None, min_length=1)
    """Path of its kubeconfig file (``~`` allowed); unset reads ``$KUBECONFIG``. Rendering needs
    none."""
    context: str | None = Field(default=None, min_length=1)
    """The kubeconfig context to use; unset uses the file's current context."""
    oidc_provider_arn: str = Field(pattern=_OIDC_PROVIDER_ARN)
    """The IAM OIDC provider of the cluster's service-account issuer (for service-account roles)."""
    storage_class: str = Field(default="gp3", pattern=_K8S_NAME)
    """The StorageClass of persistent volumes (databases, notebook homes)."""

    @property
    def oidc_issuer(self) -> str:
        """The issuer host and path: what follows ``oidc-provider/`` in the provider's ARN."""
        return self.oidc_provider_arn.split(":oidc-provider/", 1)[1]


#: The longest file or folder name most file systems take (bytes); longer fails with ENAMETOOLONG.
_MAX_FILE_NAME_BYTES = 255


_MAX_PATH_BYTES = 4096


def render_folder_problem(folder: str, root: Path) -> str | None:
    """Why the Kubernetes manifests cannot be rendered to ``folder``, or None.

    A relative ``folder`` is taken from the project ``root`` (where Pulumi runs the program) and
    must stay inside it: a ``..`` or a symlink that leads out is almost always a slip, and would
    write files wherever it points. An absolute folder is an explicit choice and may be anywhere.
    Neither may be, or pass through, an existing file, and the nearest existing folder must be
    writable, so the render cannot fail after the plan.
    """
    if not folder.strip():
        return "must not be empty (unset it to apply the manifests instead)"
    if "\x00" in folder:
        return "must not contain a NUL character"
    path = Path(folder)
    if any(len(part.encode()) > _MAX_FILE_NAME_BYTES for part in path.parts):
        return f"has a folder name longer than {_MAX_FILE_NAME_BYTES} bytes"
    try:
        target = (root / path).resolve()
        if len(str(target).encode()) > _MAX_PATH_BYTES:
            return f"leads to a path longer than {_MAX_PATH_BYTES} bytes"
        existing = target
        while not existing.exists():
            existing = existing.parent
    except (OSError, RuntimeError) as error:  # a symlink loop, an unreadable folder
        return f"'{folder}' cannot be resolved ({error.__class__.__name__})"
    if not path.is_absolute():
        project = root.resolve()
        if target == project:
            return "is the project folder itself: name a folder inside it (e.g. build/manifests)"
        if not target.is_relative_to(project):
            return (
                f"'{folder}' leads outside the project folder {project} (through '..' or a "
                "symlink): name a folder inside it, or an absolute path to render elsewhere on "
                "purpose"
            )
    if not existing.is_dir():
        what = "is a file" if existing == target else f"goes through the file {existing}"
        return f"'{folder}' {what}, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"'{folder}' cannot be written: {existing} is not writable"
    return None


class ClusterConfig(Section):
    """Where the Kubernetes resources go: a cluster the stack creates, or one that exists."""

    eks: EksClusterConfig | None = None
    """Create an EKS cluster (needs data.network.availability_zones >= 2)."""
    existing: ExistingClusterConfig | None = None
    """Use an existing cluster."""
    render_to: str | None = None
    """Write every Kubernetes manifest to this folder (relative to the project root) instead of
    applying it, for review without a cluster; AWS resources are still created. A relative
    folder must stay inside the project; an absolute one may be anywhere. Never an existing
    file, and its nearest existing folder must be writable."""
    install_operators: bool | None = None
    """Install cert-manager, Knative Serving, KServe and Kubeflow Trainer (pinned Helm charts).
    Defaults to true on a created cluster and false on an existing one."""

    @field_validator("render_to")
    @classmethod
    def _renderable_folder(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        root = Path((info.context or {}).get("project_root") or PROJECT_ROOT)
        if problem := render_folder_problem(value, root):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ClusterConfig:
        if (self.eks is None) == (self.existing is None):
            raise ValueError("set exactly one of 'eks' (create a cluster) and 'existing'")
        return self

    @property
    def operators_installed(self) -> bool:
        """Whether the stack installs the operators the workloads need."""
        if self.install_operators is not None:
            return self.install_operators
        return self.eks is not None


class ResourcesConfig(Section):
    """Requests (what the scheduler reserves) and limits of one container."""

    cpu: str = Field(default="1", pattern=_CPU_QUANTITY)
    """CPU request, e.g. ``500m`` or ``2``."""
    memory: str = Field(default="2Gi", pattern=_MEMORY_QUANTITY)
    """Memory request and limit (equal: memory is not compressible)."""
    cpu_limit: str | None = Field(default=None, pattern=_CPU_QUANTITY)
    """CPU limit; unset: twice the request."""
    gpus: int = Field(default=0, ge=0, le=16)
    """NVIDIA GPUs (request = limit); > 0 schedules onto the GPU nodes."""


class KServeEndpointConfig(Section):
    """One KServe InferenceService running our inference server image."""

    name: str = Field(pattern=_K8S_NAME)
    """The InferenceService's name in the serving namespace; KServe's predictor host label
    ``<name>-predictor-mlp-<environment>-serving`` must fit a DNS label (63 characters)."""
    image: ImageConfig
    """Our inference server image in ECR (docker/serving.Dockerfile)."""
    model_artifact: str = Field(max_length=MAX_S3_KEY)
    """Key of the model's ``model.tar.gz`` in the models bucket (the newest revision)."""
    canary_traffic_percent: int | None = Field(default=None, ge=0, le=100)
    """Share of traffic the newest revision gets while the previous one keeps the rest; unset
    (or 100) sends everything to the newest."""
    min_replicas: int = Field(default=1, ge=0, le=100)
    """The fewest pods (0 scales to zero when idle; the first request then waits for a pod)."""
    max_replicas: int = Field(default=3, ge=1, le=100)
    """The most pods."""
    scale_metric: Literal["concurrency", "rps"] = "concurrency"
    """What the Knative autoscaler tracks."""
    scale_target: int = Field(default=10, ge=1, le=100_000)
    """Concurrent requests (or requests per second) per pod the autoscaler keeps (at most
    100,000)."""
    resources: ResourcesConfig = ResourcesConfig()
    """Each predictor pod's resources."""

    @field_validator("model_artifact")
    @classmethod
    def _artifact_key(cls, value: str) -> str:
        if not ARTIFACT_KEY.match(value):
            raise ValueError("must be a key ending in .tar.gz in the models bucket")
        return value

    # KServe names the predictor's host <name>-predictor-<namespace>, one DNS label, and
    # fails to reconcile past 63 characters (kserve/kserve#4807); the namespace is
    # mlp-<env>-serving (components/kubernetes/namespaces.py).
    _host_label_fits = name_fits_validator(
        "name",
        lambda env, value: f"{value}-predictor-mlp-{env}-serving",
        _MAX_DNS_LABEL,
        "KServe predictor host label",
        "a DNS label",
    )

    @field_validator("max_replicas")
    @classmethod
    def _above_minimum(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_replicas")
        if low is not None and value < low:
            raise ValueError(f"must be >= min_replicas ({low})")
        return value


class KubernetesTrainingJobConfig(Section):
    """One distributed training job: ``torchrun`` over ``nodes`` x ``gpus_per_node`` workers."""

    name: str = Field(pattern=_K8S_NAME)
    """The TrainJob's name in the training namespace."""
    image: ImageConfig
    """Our training image in ECR (docker/training.Dockerfile)."""
    algorithm: Algorithm = "pytorch"
    """The training algorithm; more than one worker only for ``pytorch`` (DDP)."""
    task: Literal["classification", "regression"] = "classification"
    """Whether the target is a class or a number."""
    target: str = Field(pattern=r"^[\w.-]{1,128}$")
    """The target column (not empty)."""
    train_data: str = Field(pattern=_KEY_PREFIX, max_length=MAX_S3_KEY)
    """Prefix of the training channel in the processed bucket (not empty)."""
    validation_data: str | None = Field(default=None, pattern=_KEY_PREFIX, max_length=MAX_S3_KEY)
    """Prefix of the validation channel in the processed bucket."""
    hyperparameters: Hyperparameters = {}  # noqa: RUF012 (pydantic copies defaults)
    """Hyperparameters passed to the training code (as strings): names and values the
    algorithm's trainer accepts, not algorithm/task/target (the job's own fields)."""
    nodes: int = Field(default=1, ge=1, le=64)
    """Pods (one per node)."""
    gpus_per_node: int = Field(default=0, ge=0, le=16)
    """GPUs per pod, one worker process each; 0 runs one CPU worker per pod."""
    resources: ResourcesConfig = ResourcesConfig(cpu="2", memory="8Gi")
    """Each pod's CPU and memory (its GPUs are ``gpus_per_node``)."""
    backoff_limit: int = Field(default=3, ge=0, le=20)
    """Pod failures tolerated before the job fails (restarts resume from the newest checkpoint)."""
    active_deadline_seconds: int = Field(default=86400, ge=60, le=30 * 86400)
    """Longest the job may run in total."""

    _hyperparameters = field_validator("hyperparameters")(hyperparameters_accepted)

    @model_validator(mode="after")
    def _distributed_algorithm(self) -> KubernetesTrainingJobConfig:
        if self.world_size > 1 and self.algorithm not in DISTRIBUTED_ALGORITHMS:
            raise ValueError(
                f"{self.algorithm} trains in one process; only pytorch trains on "
                f"nodes x gpus_per_node = {self.world_size} workers (DDP)"
            )
        return self

    @property
    def procs_per_node(self) -> int:
        """Worker processes per pod: one per GPU, or one on CPU."""
        return max(self.gpus_per_node, 1)

    @property
    def world_size(self) -> int:
        """Worker processes in the job: one per GPU, or one per node on CPU."""
        return self.nodes * self.procs_per_node


class KubernetesOptimizationJobConfig(Section):
    """One OR-Tools solve (``python -m workloads.optimization``) as a Kubernetes Job."""

    name: str = Field(pattern=r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
    """The Job's name in the training namespace (an RFC 1035 label of at most 40 characters,
    so the pods' and the service account's suffixes fit)."""
    image: ImageConfig
    """Our training image in ECR (docker/training.Dockerfile: OR-Tools and the workload)."""
    kind: ProblemKind
    """The problem: ``routing`` (vehicle routing) or ``jobshop`` (job-shop scheduling)."""
    problem: str = Field(pattern=_KEY_PREFIX, max_length=MAX_S3_KEY)
    """Prefix of the problem file in the processed bucket (the ``problem`` channel)."""
    workers: int = Field(default=4, ge=1, le=MAX_WORKERS)
    """Parallel workers (CP-SAT's search workers or routing's portfolio processes); at most the
    pod's CPUs to be useful."""
    time_limits: TimeLimitsConfig = TimeLimitsConfig()
    """The total, per-iteration and no-improvement limits."""
    resources: ResourcesConfig = ResourcesConfig(cpu="4", memory="8Gi")
    """The pod's CPU and memory (no GPUs: OR-Tools does not use them)."""
    backoff_limit: int = Field(default=3, ge=0, le=20)
    """Pod failures tolerated before the Job fails (each restart resumes from the newest
    checkpoint on S3)."""
    active_deadline_seconds: int = Field(default=7200, ge=60, le=30 * 86400)
    """Longest the Job may run, restarts included: at least ``time_limits.total_seconds`` plus
    300 s to write the last checkpoint and the solution."""

    @field_validator("resources")
    @classmethod
    def _no_gpus(cls, value: ResourcesConfig) -> ResourcesConfig:
        if value.gpus:
            raise ValueError("gpus: must be 0 (OR-Tools solves on CPUs)")
        return value

    @field_validator("active_deadline_seconds")
    @classmethod
    def _room_after_the_solve(cls, value: int, info: ValidationInfo) -> int:
        room_after_the_solve(value, info.data.get("time_limits"), "deadline")
        return value


class KubernetesMlflowConfig(Section):
    """An MLflow tracking server in the cluster: PostgreSQL metadata, S3 artifacts, auth on."""

    enabled: bool = True
    """Run the tracking server."""
    image: ImageConfig | None = None
    """Our MLflow image in ECR (docker/mlflow.Dockerfile); unset: ``ml-platform/mlflow`` at the
    version below."""
    database: Literal["rds", "in_cluster"] = "rds"
    """``rds``: an encrypted RDS PostgreSQL instance; ``in_cluster``: a PostgreSQL StatefulSet
    (cheap, for development)."""
    rds_instance_class: str = Field(default="db.t4g.small", pattern=r"^db\.[a-z0-9]+\.\w+$")
    """The RDS instance class."""
    rds_storage_gb: int = Field(default=20, ge=20, le=65536)
    """RDS storage (grows automatically up to 5x)."""
    rds_multi_az: bool = False
    """A standby in a second availability zone (production)."""
    backup_retention_days: int = Field(default=7, ge=1, le=35)
    """Days of automatic RDS backups."""
    replicas: int = Field(default=1, ge=1, le=10)
    """Tracking server pods."""
    resources: ResourcesConfig = ResourcesConfig(cpu="500m", memory="1Gi")
    """Each tracking server pod's resources."""


class JupyterHubConfig(Section):
    """JupyterHub (the zero-to-jupyterhub Helm chart) with a CPU and a GPU profile."""

    enabled: bool = True
    """Run JupyterHub."""
    admin_users: tuple[Annotated[str, Field(pattern=r"^\S{1,256}$")], ...] = ()
    """Users who may approve sign-ups and manage servers (native authenticator); names without
    spaces, not empty."""
    user_image: ImageConfig | None = None
    """The single-user notebook image in ECR; unset: the chart's pinned default image."""
    storage_gb: int = Field(default=20, ge=1, le=16384)
    """Each user's persistent home volume."""
    cpu_profile: ResourcesConfig = ResourcesConfig(cpu="1", memory="4Gi")
    """Resources of the default (CPU) profile."""
    gpu_profile: ResourcesConfig | None = ResourcesConfig(cpu="4", memory="16Gi", gpus=1)
    """Resources of the GPU profile; ``null`` for none."""
    idle_cull_minutes: int = Field(default=60, ge=5, le=10080)
    """Stop a user's server after this long idle (it keeps its volume)."""

    @field_validator("gpu_profile")
    @classmethod
    def _has_gpus(cls, value: ResourcesConfig | None) -> ResourcesConfig | None:
        if value is not None and value.gpus < 1:
            raise ValueError("a GPU profile needs gpus >= 1")
        return value


#: A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters.
_LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


#: A label value: empty, or at most 63 characters starting and ending alphanumeric.
_LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"


#: A Prometheus duration as the PodMonitor CRD accepts it (``30s``, ``1m30s``).
_PROMETHEUS_DURATION = r"^(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?$"


class ObservabilityConfig(Section):
    """How the cluster's Prometheus and Grafana see the inference server (the predictors).

    Every predictor pod carries the ``prometheus.io/scrape``, ``/port`` (8080) and ``/path``
    (``/metrics``) annotations whatever this says, for a Prometheus without the operator.
    """

    prometheus_operator: bool = False
    """The cluster runs the Prometheus operator (monitoring.coreos.com/v1 CRDs, v0.79 or later,
    e.g. kube-prometheus-stack): create a PodMonitor for the predictors in the serving
    namespace, a NetworkPolicy letting ``namespace``'s pods scrape them, and a ConfigMap with the
    inference server's Grafana dashboard labelled ``grafana_dashboard: "1"`` in ``namespace``.
    Default false: none of these (the operator's CRDs must exist before they can be applied)."""
    namespace: str = Field(default="monitoring", pattern=_K8S_NAME)
    """Where Prometheus and Grafana run (it must exist): its pods may reach the predictors on
    8080, and the dashboard ConfigMap goes there for Grafana's sidecar. Default ``monitoring``."""
    pod_monitor_labels: dict[
        Annotated[str, Field(pattern=_LABEL_KEY, max_length=317)],
        Annotated[str, Field(pattern=_LABEL_VALUE)],
    ] = {}  # noqa: RUF012 (pydantic copies defaults)
    """Extra labels on the PodMonitor, for a Prometheus that selects monitors by label
    (kube-prometheus-stack's default: ``release: <its Helm release name>``). Default none."""
    scrape_interval: str = Field(default="30s", pattern=_PROMETHEUS_DURATION, min_length=2)
    """How often Prometheus scrapes each predictor (``15s``, ``1m``). Default ``30s``."""


class KubernetesConfig(Section):
    """Kubernetes options (the kubernetes layer)."""

    cluster: ClusterConfig | None = None
    """Where the resources go (required when the layer is deployed)."""
    endpoints: tuple[KServeEndpointConfig, ...] = ()
    """KServe InferenceServices, one per entry."""
    training_jobs: tuple[KubernetesTrainingJobConfig, ...] = ()
    """Distributed training jobs, one TrainJob per entry."""
    optimization_jobs: tuple[KubernetesOptimizationJobConfig, ...] = ()
    """OR-Tools solves, one Job per entry (docs/optimization.md)."""
    mlflow: KubernetesMlflowConfig = KubernetesMlflowConfig()
    """The MLflow tracking server."""
    jupyterhub: JupyterHubConfig = JupyterHubConfig()
    """JupyterHub."""
    observability: ObservabilityConfig = ObservabilityConfig()
    """Prometheus scraping and the Grafana dashboard of the inference server."""

    _unique_endpoints = unique_names_validator(
        "endpoints", "endpoint names", lambda entry: entry.name
    )
    _unique_jobs = unique_names_validator(
        "training_jobs", "training job names", lambda entry: entry.name
    )
    _unique_optimization_jobs = unique_names_validator(
        "optimization_jobs", "optimization job names", lambda entry: entry.name
    )
