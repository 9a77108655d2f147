"""What the Kubernetes provider's render mode writes, reproduced from an offline plan.

With ``Provider(render_yaml_to_directory=DIR)`` the real provider applies nothing: it writes each
Kubernetes object it is given as one YAML file, ``DIR/0-crd/`` for CustomResourceDefinitions and
``DIR/1-manifest/`` for everything else, named ``<apiVersion>-<kind>-<namespace>-<name>.yaml``
(pulumi-kubernetes ``renderPathForResource``). The mock runtime has no provider plugin, so
:func:`write_rendered_manifests` writes the same files from the recorded inputs: ``make plan``
of a stack whose ``kubernetes.cluster.render_to`` is set leaves the manifests to review there.

A Helm chart (``helm.sh/v4:Chart``) is expanded into objects by the provider itself; offline its
chart cannot be fetched, so a chart is written as one ``helm-chart-*.yaml`` file holding its
chart, version, repository and values instead of the objects it would make.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from stacks.offline.mock_runtime import RecordedResource

_PROVIDER_TYPE = "pulumi:providers:kubernetes"
_CHART_TYPES = ("kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart")


def _sanitise(text: str) -> str:
    return text.replace("/", "_").replace(":", "_")


def manifest_path(directory: Path, manifest: dict[str, Any]) -> Path:
    """Where the provider writes ``manifest`` under ``directory``."""
    metadata = manifest.get("metadata") or {}
    namespace = metadata.get("namespace") or "default"
    kind = str(manifest.get("kind", ""))
    name = (
        f"{_sanitise(str(manifest.get('apiVersion', '')))}-{kind.lower()}-{namespace}-"
        f"{metadata.get('name', '')}.yaml"
    )
    folder = "0-crd" if kind == "CustomResourceDefinition" else "1-manifest"
    return directory / folder / name


def render_directories(resources: Iterable[RecordedResource]) -> dict[str, str]:
    """Render folder by Kubernetes provider URN, for the providers in render mode."""
    return {
        resource.urn: str(resource.inputs["renderYamlToDirectory"])
        for resource in resources
        if resource.type == _PROVIDER_TYPE and resource.inputs.get("renderYamlToDirectory")
    }


def write_rendered_manifests(resources: list[RecordedResource], root: Path) -> list[Path]:
    """Write the manifests of every resource of a render-mode provider; return the files.

    Relative render folders are taken from ``root`` (the project, where Pulumi runs the program).
    """
    directories = render_directories(resources)
    written: list[Path] = []
    for resource in resources:
        folder = directories.get(resource.provider or "")
        if folder is None or not resource.type.startswith("kubernetes:"):
            continue
        directory = root / folder
        if resource.type in _CHART_TYPES:
            path = directory / "1-manifest" / f"helm-chart-{resource.name}.yaml"
            document: dict[str, Any] = {"helmChart": resource.inputs}
        elif resource.custom and "kind" in resource.inputs:
            document = dict(resource.inputs)
            metadata = dict(document.get("metadata") or {})
            metadata.setdefault("name", resource.name)  # Pulumi auto-names it otherwise
            document["metadata"] = metadata
            path = manifest_path(directory, document)
        else:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=True))
        written.append(path)
    return written
