"""The one pod and container security context every pod template of the platform uses.

The Kubernetes "restricted" Pod Security Standard, which the platform's namespaces enforce, admits
a pod only when it runs as a non-root user, cannot escalate privileges, drops every capability and
uses the RuntimeDefault seccomp profile. On top of that the platform's pods keep their root
filesystem read-only: whatever a container must write goes to an ``emptyDir`` (``/tmp`` and the
like) or a persistent volume, so a compromised process cannot change the image it runs.

Images are always pinned to a tag that is not ``latest`` (or to a digest): a moving tag makes a
deploy unrepeatable and lets a registry push change what runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

#: The user and group every platform container runs as (the images create this user).
PLATFORM_UID = 10001

#: Where containers get writable scratch space (the root filesystem is read-only).
SCRATCH_PATH = "/tmp"

_PINNED_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def pinned_image(repository: pulumi.Input[str], tag: str) -> pulumi.Input[str]:
    """``repository:tag`` (or ``repository@sha256:...``), refusing ``latest`` and empty tags.

    The tag is checked at once; ``repository`` may be an output (an ECR repository's URL, which
    carries the account id), and the image is then an output too.

    Raises:
        ValueError: naming the image, when the tag is missing, malformed or ``latest``.

    """
    if _DIGEST.match(tag):
        separator = "@"
    elif not _PINNED_TAG.match(tag) or tag == "latest":
        raise ValueError(f"image {repository}: tag '{tag}' is not pinned (never 'latest')")
    else:
        separator = ":"
    if isinstance(repository, str):
        return f"{repository}{separator}{tag}"
    return pulumi.Output.concat(repository, separator, tag)


def image_tag_problems(repository: pulumi.Input[str], tag: str) -> list[str]:
    """What is wrong with ``tag`` (see :func:`pinned_image`), as a component's validation lists it.

    Empty when the tag is pinned; else one ``image_tag: ...`` entry.
    """
    try:
        pinned_image(repository, tag)
    except ValueError as error:
        return [f"image_tag: {error}"]
    return []


def is_pinned(image: str) -> bool:
    """Whether an image reference carries a digest or a tag other than ``latest``."""
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return False
    return name.rsplit(":", 1)[1] not in ("", "latest")


def pod_security_context(
    uid: int = PLATFORM_UID, fs_group: int | None = None, gid: int | None = None
) -> k8s.core.v1.PodSecurityContextArgs:
    """The restricted pod-level context: non-root ``uid``, RuntimeDefault seccomp.

    ``gid`` (default: ``uid``) is the primary group; ``fs_group`` (default: ``gid``) owns mounted
    volumes, so a non-root process can write to them.
    """
    gid = uid if gid is None else gid
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=gid,
        fs_group=gid if fs_group is None else fs_group,
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security_context(
    uid: int = PLATFORM_UID, gid: int | None = None, *, explicit_privileged: bool = True
) -> k8s.core.v1.SecurityContextArgs:
    """The restricted container-level context: no escalation, no capabilities, read-only root.

    ``gid`` defaults to ``uid``. Knative admits no ``privileged`` field on a revision's
    containers: ``explicit_privileged=False`` leaves it unset, which is false all the same.
    """
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid if gid is None else gid,
        allow_privilege_escalation=False,
        privileged=False if explicit_privileged else None,
        read_only_root_filesystem=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def scratch_volume(name: str = "scratch", size_limit: str = "1Gi") -> k8s.core.v1.VolumeArgs:
    """An ``emptyDir`` volume for what a container writes (bounded, so it cannot fill the node)."""
    return k8s.core.v1.VolumeArgs(
        name=name, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=size_limit)
    )


def scratch_mount(name: str = "scratch", path: str = SCRATCH_PATH) -> k8s.core.v1.VolumeMountArgs:
    """Mount a scratch volume (default at ``/tmp``)."""
    return k8s.core.v1.VolumeMountArgs(name=name, mount_path=path)


def scratch_environment() -> list[k8s.core.v1.EnvVarArgs]:
    """``HOME`` and ``XDG_CACHE_HOME`` in the scratch mount (``/tmp``).

    The root filesystem is read-only: anything that wants a home or a cache gets scratch.
    """
    return [
        k8s.core.v1.EnvVarArgs(name="HOME", value=SCRATCH_PATH),
        k8s.core.v1.EnvVarArgs(name="XDG_CACHE_HOME", value=f"{SCRATCH_PATH}/.cache"),
    ]


def resource_requirements(
    cpu: str, memory: str, cpu_limit: str | None = None, gpus: int = 0
) -> k8s.core.v1.ResourceRequirementsArgs:
    """Requests and limits: memory limit = request (not compressible), CPU limit default 2x.

    GPUs are requested and limited alike (Kubernetes requires extended resources to be equal).
    """
    requests = {"cpu": cpu, "memory": memory}
    limits = {"cpu": cpu_limit or double_cpu(cpu), "memory": memory}
    if gpus:
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(gpus)
    return k8s.core.v1.ResourceRequirementsArgs(requests=requests, limits=limits)


def double_cpu(cpu: str) -> str:
    """Twice a CPU quantity, in the same unit (``500m`` -> ``1000m``, ``1.5`` -> ``3``)."""
    if cpu.endswith("m"):
        return f"{int(cpu[:-1]) * 2}m"
    value = float(cpu) * 2
    return str(int(value)) if value.is_integer() else f"{value:g}"


#: The GPU nodes' taint: only pods that tolerate it (the ones asking for GPUs) land there.
GPU_TAINT_KEY = "nvidia.com/gpu"

#: The label every GPU node carries, so GPU pods select them explicitly.
GPU_NODE_LABEL = ("ml-platform/accelerator", "nvidia")


def gpu_tolerations(gpus: int) -> Sequence[k8s.core.v1.TolerationArgs] | None:
    """The toleration of the GPU taint, for a pod that asks for ``gpus`` > 0; else none."""
    if not gpus:
        return None
    return [k8s.core.v1.TolerationArgs(key=GPU_TAINT_KEY, operator="Exists", effect="NoSchedule")]


def gpu_node_selector(gpus: int) -> dict[str, str] | None:
    """Select the GPU nodes for a pod that asks for ``gpus`` > 0; else no selector."""
    return dict([GPU_NODE_LABEL]) if gpus else None
