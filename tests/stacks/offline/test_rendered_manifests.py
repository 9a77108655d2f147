"""The offline render of a render-mode Kubernetes provider: the files the provider would write.

given a program whose Kubernetes provider renders to a folder / when the recorded run is rendered /
then each object is one YAML file named as pulumi-kubernetes names it, CRDs apart, charts as their
inputs, and resources of an applying provider are not written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from stacks.offline.mock_runtime import run_offline
from stacks.offline.rendered_manifests import manifest_path, write_rendered_manifests


def render_program(folder: str) -> Any:
    def program() -> dict[str, Any]:
        rendering = pulumi.ResourceOptions(
            provider=k8s.Provider("render", render_yaml_to_directory=folder)
        )
        applying = pulumi.ResourceOptions(provider=k8s.Provider("apply"))
        k8s.core.v1.Namespace(
            "serving", metadata=k8s.meta.v1.ObjectMetaArgs(name="mlp-dev-serving"), opts=rendering
        )
        k8s.apiextensions.CustomResource(
            "churn",
            api_version="serving.kserve.io/v1beta1",
            kind="InferenceService",
            metadata={"name": "churn", "namespace": "mlp-dev-serving"},
            spec={"predictor": {"canaryTrafficPercent": 10}},
            opts=rendering,
        )
        k8s.apiextensions.v1.CustomResourceDefinition(
            "crd",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="things.example.com"),
            spec=k8s.apiextensions.v1.CustomResourceDefinitionSpecArgs(
                group="example.com",
                names=k8s.apiextensions.v1.CustomResourceDefinitionNamesArgs(
                    kind="Thing", plural="things"
                ),
                scope="Namespaced",
                versions=[],
            ),
            opts=rendering,
        )
        k8s.helm.v4.Chart("hub", chart="jupyterhub", version="4.2.0", opts=rendering)
        k8s.core.v1.Namespace(
            "applied", metadata=k8s.meta.v1.ObjectMetaArgs(name="elsewhere"), opts=applying
        )
        return {}

    return program


def test_render_mode_writes_one_file_per_object_where_the_provider_would(tmp_path: Path) -> None:
    # given a run whose render-mode provider writes to manifests/
    run = run_offline("dev", {"aws:region": "us-east-1"}, render_program("manifests"))
    # when its manifests are written under the project root
    written = write_rendered_manifests(run.resources, tmp_path)
    # then each object has its file, CRDs in 0-crd, the rest in 1-manifest
    root = tmp_path / "manifests"
    assert sorted(path.relative_to(root).as_posix() for path in written) == [
        "0-crd/apiextensions.k8s.io_v1-customresourcedefinition-default-things.example.com.yaml",
        "1-manifest/helm-chart-hub.yaml",
        "1-manifest/serving.kserve.io_v1beta1-inferenceservice-mlp-dev-serving-churn.yaml",
        "1-manifest/v1-namespace-default-mlp-dev-serving.yaml",
    ]
    # and a file holds the object as applied (the canary share from the program)
    service = yaml.safe_load(
        (
            root
            / "1-manifest/serving.kserve.io_v1beta1-inferenceservice-mlp-dev-serving-churn.yaml"
        ).read_text()
    )
    assert service["kind"] == "InferenceService"
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 10
    # and the chart is written as its inputs
    chart = yaml.safe_load((root / "1-manifest/helm-chart-hub.yaml").read_text())
    assert chart["helmChart"]["chart"] == "jupyterhub"


def test_absolute_render_folders_are_used_as_they_are(tmp_path: Path) -> None:
    # given a render folder given as an absolute path
    run = run_offline("dev", {"aws:region": "us-east-1"}, render_program(str(tmp_path / "out")))
    # when written from another root
    written = write_rendered_manifests(run.resources, Path("/nonexistent"))
    # then the files are in that folder
    assert written and all(path.is_relative_to(tmp_path / "out") for path in written)


def test_manifest_names_replace_slashes_and_colons_and_default_the_namespace() -> None:
    # given a cluster-scoped object with a group version
    manifest = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}
    manifest["metadata"] = {"name": "reader"}
    # when its path is computed
    path = manifest_path(Path("out"), manifest)
    # then it follows the provider's naming
    assert path == Path(
        "out/1-manifest/rbac.authorization.k8s.io_v1-clusterrole-default-reader.yaml"
    )
