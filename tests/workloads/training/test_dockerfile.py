"""The training image's Dockerfile (no Docker engine here: its properties are checked as text)."""

from __future__ import annotations

import re

import pytest

from tests.dockerfiles import DOCKER, instructions

DOCKERFILE = DOCKER / "training.Dockerfile"


def arguments_of(keyword: str) -> list[str]:
    return [arguments for found, arguments in instructions("training") if found == keyword]


def defaults() -> dict[str, str]:
    """The ARGs' default values."""
    return dict(argument.split("=", 1) for argument in arguments_of("ARG"))


def test_the_base_is_aws_pytorch_training_container_pinned_to_a_release() -> None:
    # given the FROM line with its ARG defaults filled in
    [image] = arguments_of("FROM")
    resolved = re.sub(r"\$\{(\w+)\}", lambda match: defaults()[match[1]], image)
    # then it is AWS's SageMaker PyTorch training image on a full release tag, never latest
    registry, _, tag = resolved.rpartition(":")
    assert re.fullmatch(
        r"763104351884\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/pytorch-training", registry
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+-cpu-py3\d+-ubuntu\d+\.\d+-sagemaker", tag), tag
    assert "latest" not in resolved


def test_the_gpu_variant_is_one_build_argument_away() -> None:
    """Given the file, then it names the GPU tag of the same release for BASE_TAG."""
    cpu = defaults()["BASE_TAG"]
    version = cpu.split("-")[0]
    gpu = re.search(r"BASE_TAG=(\S+)", DOCKERFILE.read_text().split("FROM", 1)[0]).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(rf"{re.escape(version)}-gpu-py3\d+-cu\d+-ubuntu\d+\.\d+-sagemaker", gpu), (
        gpu
    )


def pins() -> dict[str, str]:
    """The libraries the image pip-installs, by name, with their versions."""
    [libraries] = [run for run in arguments_of("RUN") if run.startswith("pip install scikit-learn")]
    requirements = libraries.split()[2:]
    assert all(re.fullmatch(r"[a-z-]+==\d+(\.\d+)+", r) for r in requirements), requirements
    return dict(requirement.split("==") for requirement in requirements)


def test_it_installs_mlflow_its_sagemaker_plugin_and_the_frameworks_pinned() -> None:
    """Given the RUN lines, then every library is pinned; MLflow and OR-Tools as tested here.

    The optimization jobs run in this image, so OR-Tools is the version their tests use.
    """
    from importlib.metadata import version

    found = pins()
    assert set(found) == {
        "scikit-learn",
        "xgboost",
        "skops",
        "mlflow",
        "sagemaker-mlflow",
        "ortools",
    }
    assert found["mlflow"] == "3.17.2"
    assert found["ortools"] == version("ortools")


def test_the_frameworks_are_the_versions_the_tests_train_with() -> None:
    """Given the pins, then scikit-learn and XGBoost match this environment (models are tested here)."""
    import sklearn
    import xgboost

    found = pins()
    assert found["scikit-learn"].split(".")[:2] == sklearn.__version__.split(".")[:2]
    assert found["xgboost"] == xgboost.__version__


def test_the_project_goes_in_without_pulling_dependencies_again() -> None:
    """Given the RUN lines, then our package is installed with --no-deps (torch stays the base's)."""
    assert any("pip install --no-deps /tmp/src" in run for run in arguments_of("RUN"))


@pytest.mark.parametrize(
    "word", ["SECRET", "PASSWORD", "TOKEN", "ACCESS_KEY", "CREDENTIAL", "PRIVATE"]
)
def test_no_secrets_are_baked_in(word: str) -> None:
    """Given the Dockerfile, then no ENV, ARG or LABEL carries a secret and nothing is fetched by ADD."""
    for keyword in ("ENV", "ARG", "LABEL"):
        for arguments in arguments_of(keyword):
            assert word not in arguments.upper()
    assert not arguments_of("ADD")
