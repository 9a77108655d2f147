"""Find every pod template in recorded Kubernetes resources and check it against the rules.

The rules are the platform's (see components/kubernetes/pod_security.py): the restricted Pod
Security Standard plus a read-only root filesystem with emptyDir scratch, requests and limits,
and images pinned to a tag that is not ``latest``. A pod template is any mapping with a
``containers`` list, wherever it sits (Deployment, StatefulSet, Job, a TrainingRuntime's JobSet,
an InferenceService's predictor), so a new kind of workload is checked without listing it here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from components.kubernetes.pod_security import is_pinned
from stacks.offline.mock_runtime import RecordedResource


def pod_templates(resource: RecordedResource) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, pod spec)`` for every pod spec inside ``resource``'s inputs."""
    yield from _walk(resource.inputs, f"{resource.type} {resource.name}")


def _walk(value: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        if isinstance(value.get("containers"), list):
            yield where, value
        for key, item in value.items():
            yield from _walk(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{where}[{index}]")


def pod_template_problems(where: str, pod: dict[str, Any]) -> list[str]:
    """Every broken rule of one pod spec, as ``where: rule``."""
    problems = []
    pod_context = pod.get("securityContext") or {}
    emptydirs = {volume["name"] for volume in pod.get("volumes") or [] if "emptyDir" in volume}
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        name = f"{where} container {container.get('name')}"
        context = container.get("securityContext") or {}

        def setting(key: str, context: dict[str, Any] = context) -> Any:
            return context.get(key, pod_context.get(key))

        if setting("runAsNonRoot") is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if setting("runAsUser") == 0:
            problems.append(f"{name}: runs as uid 0")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if (context.get("capabilities") or {}).get("add"):
            problems.append(f"{name}: adds capabilities")
        if (setting("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: seccomp profile is not RuntimeDefault")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: root filesystem is not read-only")
        mounts = {mount["name"] for mount in container.get("volumeMounts") or []}
        if not mounts & emptydirs:
            problems.append(f"{name}: mounts no emptyDir scratch volume")
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(kind) or {})
            if missing:
                problems.append(f"{name}: no {kind} for {', '.join(sorted(missing))}")
        image = container.get("image")
        if not image or not is_pinned(image):
            problems.append(f"{name}: image {image!r} is not pinned")
    return problems
