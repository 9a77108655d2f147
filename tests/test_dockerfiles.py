"""The serving and training images run as the platform's non-root user on a read-only root.

No Docker engine here: the Dockerfiles are read as text. given a Dockerfile / when its final
USER, ENV and RUN lines are read / then it ends as uid 10001 (the pods' PLATFORM_UID), HOME and
caches point into /tmp (the pods' emptyDir), and the training image owns its /opt/ml folders.
"""

from __future__ import annotations

import re

import pytest

from components.kubernetes.pod_security import PLATFORM_UID, SCRATCH_PATH
from tests.dockerfiles import instructions

IMAGES = ("serving", "training")


def environment(image: str) -> dict[str, str]:
    """Every ENV the image sets (``KEY=value`` form)."""
    found: dict[str, str] = {}
    for keyword, arguments in instructions(image):
        if keyword == "ENV":
            found.update(re.findall(r"(\w+)=(\S+)", arguments))
    return found


@pytest.mark.parametrize("image", IMAGES)
def test_the_image_ends_as_the_platform_user(image: str) -> None:
    users = [arguments for keyword, arguments in instructions(image) if keyword == "USER"]
    assert users, f"{image}: no USER"
    assert users[-1] == f"{PLATFORM_UID}:{PLATFORM_UID}"
    # and the user is created with that uid
    runs = " ".join(arguments for keyword, arguments in instructions(image) if keyword == "RUN")
    assert f"useradd --uid {PLATFORM_UID} --user-group" in runs


@pytest.mark.parametrize("image", IMAGES)
def test_home_and_caches_are_on_the_scratch_volume(image: str) -> None:
    env = environment(image)
    assert env["HOME"] == SCRATCH_PATH
    assert env["XDG_CACHE_HOME"].startswith(f"{SCRATCH_PATH}/")
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"


def test_the_training_image_owns_the_contract_folders_the_pods_mount() -> None:
    runs = " ".join(
        arguments for keyword, arguments in instructions("training") if keyword == "RUN"
    )
    for folder in ("input", "model", "output", "checkpoints"):
        assert f"/opt/ml/{folder}" in runs
    assert f"chown -R {PLATFORM_UID}:{PLATFORM_UID} /opt/ml" in runs


def test_the_training_pods_mount_an_emptydir_on_every_folder_the_image_documents() -> None:
    from components.kubernetes.train_job import VOLUMES

    mounted = {path for _, path, _ in VOLUMES}
    assert mounted == {
        "/opt/ml/input",
        "/opt/ml/model",
        "/opt/ml/output",
        "/opt/ml/checkpoints",
        SCRATCH_PATH,
    }


def test_the_training_image_pins_the_ortools_the_optimization_extra_allows() -> None:
    # given the training image's pip installs and the optimization extra in pyproject.toml
    import tomllib

    from packaging.requirements import Requirement

    from tests.dockerfiles import DOCKER

    runs = " ".join(
        arguments for keyword, arguments in instructions("training") if keyword == "RUN"
    )
    pins = dict(re.findall(r"\b([a-z][a-z0-9_-]*)==(\S+)", runs))
    project = tomllib.loads((DOCKER.parent / "pyproject.toml").read_text())
    (wanted,) = [
        Requirement(item)
        for item in project["project"]["optional-dependencies"]["optimization"]
        if Requirement(item).name == "ortools"
    ]
    # then the optimization jobs' image has one exact OR-Tools version, one the extra allows
    assert "ortools" in pins
    assert wanted.specifier.contains(pins["ortools"])
