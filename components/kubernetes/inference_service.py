"""KServeEndpoint: our inference server as a KServe InferenceService, in serverless (Knative) mode.

Checked against KServe v0.15.2 (the version components.kubernetes.cluster_operators installs):

* Serverless mode (annotation ``serving.kserve.io/deploymentMode: Serverless``; later releases
  call it ``Knative`` and keep ``Serverless`` as its legacy name) is what gives
  ``canaryTrafficPercent``: Knative keeps the previous revision and splits traffic between the
  two. Sent only when it is set and below 100 (100, or unset, sends all traffic to the newest).
* A custom predictor is a pod spec whose container is named ``kserve-container``. KServe's
  storage initializer downloads its model when that container has a ``STORAGE_URI`` environment
  variable (``CustomPredictor.GetStorageUri`` in pkg/apis/serving/v1beta1/predictor_custom.go):
  ``storageUri`` is a field of the framework predictors (``predictor.model``), not of a
  core/v1 Container, whose schema would prune it. A single ``.tar.gz`` object is unpacked into
  ``/mnt/models``, which our server reads as ``SM_MODEL_DIR``.
* Knative validates pod specs against its own field masks: a pod-level securityContext and
  ``privileged`` are refused unless ``kubernetes.podspec-securitycontext`` is enabled, node
  selectors and tolerations (GPU predictors) need ``kubernetes.podspec-nodeselector`` and
  ``kubernetes.podspec-tolerations``. So the restricted settings sit on the container
  (non-root, no escalation, no capabilities, RuntimeDefault seccomp, read-only root), where the
  Pod Security admission accepts them too, and ``privileged`` is left unset (false by default).
* Only one container port is allowed (8080, our server's); probes name it.
* Knative refuses ``terminationGracePeriodSeconds`` in a pod spec ("must not set the field(s)",
  kserve/kserve#1723) and sets it to the revision's ``timeoutSeconds`` instead
  (knative/serving#2567, #15599), which KServe takes from the predictor's ``timeout``. So the
  grace period is set there: ``TERMINATION_GRACE_SECONDS``, which must cover the queue-proxy's
  drain (up to 30 s before our container gets SIGTERM, knative/serving#13332) plus our server's
  drain bound (``workloads.inference.contract.DEFAULT_DRAIN_SECONDS``); a test checks the sum.

The pods read the model with their own IAM role (IRSA): the service account's role may read
that one object and decrypt it through S3, nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.cluster_access import ClusterAccess
from components.kubernetes.monitoring import PREDICTOR_POD_LABELS, predictor_pod_annotations
from components.kubernetes.pod_security import (
    container_security_context,
    gpu_node_selector,
    gpu_tolerations,
    image_tag_problems,
    pinned_image,
    resource_requirements,
    scratch_environment,
    scratch_mount,
    scratch_volume,
)
from components.kubernetes.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs
from components.kubernetes.spec import KServeEndpointConfig
from components.shared import iam_policies
from workloads.inference import contract

#: The InferenceService API this component writes.
API_VERSION = "serving.kserve.io/v1beta1"

#: KServe's deployment-mode annotation, and the mode that gives canary traffic splits.
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
SERVERLESS = "Serverless"

#: The container name KServe recognises as a custom predictor.
PREDICTOR_CONTAINER = "kserve-container"

#: The variable that makes KServe's storage initializer download a custom predictor's model.
STORAGE_URI_ENV = "STORAGE_URI"

#: Where the storage initializer unpacks the model (KServe's DefaultModelLocalMountPath).
MODEL_MOUNT_PATH = "/mnt/models"

#: Our server's port (SageMaker's contract: GET /ping, POST /invocations).
SERVER_PORT = contract.DEFAULT_PORT

#: Knative's queue-proxy drains this long after SIGTERM before our container is signalled.
QUEUE_PROXY_DRAIN_SECONDS = 30

#: The pods' termination grace period (sent as the predictor's ``timeout``; see the module
#: docstring), which Knative also applies as the longest a request may take: 60 s is SageMaker's
#: own bound on an invocation, and leaves 20 s beyond the queue-proxy's drain and our server's.
TERMINATION_GRACE_SECONDS = 60

_MODEL_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(\S+\.tar\.gz)$")
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,43}[a-z0-9])?$")


@dataclass(frozen=True)
class KServeEndpointArgs:
    """What a KServeEndpoint needs besides its config entry: where it runs and what it reads."""

    endpoint: KServeEndpointConfig
    """The ``kubernetes.endpoints`` entry: name, image, replicas, scaling, canary, resources."""
    namespace: str
    """The serving namespace."""
    image_repository: pulumi.Input[str]
    """Repository URL of ``endpoint.image`` (our inference server, docker/serving.Dockerfile)
    in this account's ECR."""
    model_uri: pulumi.Input[str]
    """``s3://<models bucket>/<key>.tar.gz``: the model archive the storage initializer unpacks."""
    models_bucket_arn: pulumi.Input[str]
    """ARN of the bucket of ``model_uri`` (scopes the read permission)."""
    kms_key_arn: pulumi.Input[str]
    """The platform key the model object is encrypted with."""
    region: str
    """The stack's region (the key is usable only through S3 in it)."""


def validate(args: KServeEndpointArgs) -> None:
    """Raise one ValueError listing every invalid field of ``args``.

    The name must also be an RFC 1035 label short enough for KServe's suffixes, and the model URI
    (derived from the models bucket) must point at an archive.
    """
    endpoint, problems = args.endpoint, []
    if not _NAME.match(endpoint.name):
        problems.append(f"name: '{endpoint.name}' is not a DNS label of at most 45 characters")
    # An output (the bucket's generated name) is checked when known, in the policy below.
    if isinstance(args.model_uri, str) and not _MODEL_URI.match(args.model_uri):
        problems.append(f"model_uri: '{args.model_uri}' is not s3://<bucket>/<key>.tar.gz")
    problems += image_tag_problems(args.image_repository, endpoint.image.tag)
    if problems:
        raise ValueError(f"Invalid KServe endpoint {endpoint.name}: " + "; ".join(problems))


def model_read_statements(
    bucket_arn: str, model_uri: str, kms_key_arn: str, region: str
) -> list[iam_policies.Statement]:
    """Read exactly the model object, and decrypt it through S3 only."""
    match = _MODEL_URI.match(model_uri)
    if match is None:
        raise ValueError(f"model_uri: '{model_uri}' is not s3://<bucket>/<key>.tar.gz")
    return [
        {
            "Sid": "ReadModelArchive",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{match[2]}",
        },
        iam_policies.kms_via_s3_statement(kms_key_arn, region),
    ]


def predictor_container(args: KServeEndpointArgs) -> k8s.core.v1.ContainerArgs:
    """The ``kserve-container``: our server on 8080 serving what KServe unpacked in /mnt/models."""
    ping = k8s.core.v1.HTTPGetActionArgs(path=contract.PING_PATH, port=SERVER_PORT)
    resources = args.endpoint.resources
    return k8s.core.v1.ContainerArgs(
        name=PREDICTOR_CONTAINER,
        image=pinned_image(args.image_repository, args.endpoint.image.tag),
        command=["ml-platform-serve"],
        args=[
            "--host",
            "0.0.0.0",  # the pod's own network namespace; Knative's queue-proxy connects to it
            "--port",
            str(SERVER_PORT),
            "--model-dir",
            MODEL_MOUNT_PATH,
        ],
        env=[
            k8s.core.v1.EnvVarArgs(name=STORAGE_URI_ENV, value=args.model_uri),
            k8s.core.v1.EnvVarArgs(name=contract.MODEL_DIR_ENV, value=MODEL_MOUNT_PATH),
            *scratch_environment(),
        ],
        ports=[k8s.core.v1.ContainerPortArgs(container_port=SERVER_PORT, protocol="TCP")],
        # /ping is 200 only once the model is loaded: no traffic before that.
        readiness_probe=k8s.core.v1.ProbeArgs(
            http_get=ping, period_seconds=5, timeout_seconds=2, failure_threshold=3
        ),
        # The socket opens at once and /ping answers 503 while a model loads, so liveness gives
        # a load about two minutes before it restarts a server that never becomes healthy.
        liveness_probe=k8s.core.v1.ProbeArgs(
            http_get=ping,
            initial_delay_seconds=30,
            period_seconds=15,
            timeout_seconds=5,
            failure_threshold=6,
        ),
        resources=resource_requirements(
            resources.cpu, resources.memory, resources.cpu_limit, resources.gpus
        ),
        security_context=container_security_context(explicit_privileged=False),
        volume_mounts=[scratch_mount()],
    )


def predictor_spec(args: KServeEndpointArgs, service_account: str) -> dict[str, object]:
    """The InferenceService's ``spec.predictor``: autoscaling, canary share and the pod."""
    endpoint = args.endpoint
    predictor: dict[str, object] = {
        "minReplicas": endpoint.min_replicas,
        "maxReplicas": endpoint.max_replicas,
        "scaleMetric": endpoint.scale_metric,
        "scaleTarget": endpoint.scale_target,
        # Knative turns this into terminationGracePeriodSeconds (and the request timeout).
        "timeout": TERMINATION_GRACE_SECONDS,
        # KServe copies these onto the predictor pods: how Prometheus finds and selects them
        # (components.kubernetes.monitoring).
        "labels": dict(PREDICTOR_POD_LABELS),
        "annotations": predictor_pod_annotations(),
        "serviceAccountName": service_account,
        # The server never calls the Kubernetes API; the IRSA token is a projected volume the
        # pod identity webhook adds on its own.
        "automountServiceAccountToken": False,
        "containers": [predictor_container(args)],
        "volumes": [scratch_volume()],
    }
    if endpoint.canary_traffic_percent is not None and endpoint.canary_traffic_percent < 100:
        predictor["canaryTrafficPercent"] = endpoint.canary_traffic_percent
    if gpus := endpoint.resources.gpus:
        predictor["tolerations"] = gpu_tolerations(gpus)
        predictor["nodeSelector"] = gpu_node_selector(gpus)
    return predictor


class KServeEndpoint(pulumi.ComponentResource):
    """A KServe InferenceService (serverless) running our inference server, with its IRSA role."""

    inference_service: k8s.apiextensions.CustomResource
    """The InferenceService."""
    role: ServiceAccountRole
    """The predictor pods' service account and IAM role."""
    url: str
    """The in-cluster address KServe reports in ``status.address.url``."""

    def __init__(
        self,
        name: str,
        args: KServeEndpointArgs,
        cluster: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlplatform:kubernetes:KServeEndpoint", name, None, opts)
        validate(args)
        self.args = args
        service_account = f"{args.endpoint.name}-predictor"
        self.role = ServiceAccountRole(
            f"{name}-predictor",
            ServiceAccountRoleArgs(
                namespace=args.namespace,
                service_account=service_account,
                statements=pulumi.Output.all(
                    args.models_bucket_arn, args.kms_key_arn, args.model_uri
                ).apply(
                    lambda values: model_read_statements(
                        values[0], values[2], values[1], args.region
                    )
                ),
                description=f"KServe predictor {args.endpoint.name}: reads its model archive",
            ),
            cluster,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.inference_service = k8s.apiextensions.CustomResource(
            name,
            api_version=API_VERSION,
            kind="InferenceService",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.endpoint.name,
                namespace=args.namespace,
                annotations={DEPLOYMENT_MODE_ANNOTATION: SERVERLESS},
                labels={"app.kubernetes.io/part-of": "ml-platform"},
            ),
            spec={"predictor": predictor_spec(args, service_account)},
            # The service account (and its role) must exist before the first pod starts.
            opts=cluster.options(self, depends_on=[self.role]),
        )
        self.url = f"http://{args.endpoint.name}.{args.namespace}.svc.cluster.local"
        self.register_outputs({"name": args.endpoint.name, "url": self.url})

    def exports(self) -> dict[str, object]:
        """What the stack exports: name, namespace, in-cluster URL, the predictor's role."""
        return {
            "name": self.args.endpoint.name,
            "namespace": self.args.namespace,
            "url": self.url,
            "invocations_url": f"{self.url}{contract.INVOCATIONS_PATH}",
            "canary_traffic_percent": self.args.endpoint.canary_traffic_percent,
            "role_arn": self.role.role.arn,
        }
