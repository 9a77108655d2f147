"""The prebuilt container tags we name exist, checked against the SageMaker Python SDK's tables.

The SDK's image URI tables (``sagemaker/core/image_uri_config/<framework>.json`` in the
``sagemaker-core`` wheel) are the maintained record of which framework versions have prebuilt
containers in which region. sagemaker-core is not a dependency (it pins ``mock<5`` and
``importlib-metadata<7`` and pulls paramiko, omegaconf, rich and more), so these tests download
its wheel, at one pinned version, without dependencies, and read the JSON from it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from typing import Any

import pytest

from components.shared.images import (
    PREBUILT_FRAMEWORK_TAGS,
    PREBUILT_MONITORING_TAG,
    PREBUILT_REPOSITORIES,
    PREBUILT_TRAINING_TAGS,
    PYTORCH_GPU_TRAINING_TAG,
    tag_version,
)
from stacks.offline import mock_runtime
from tests.conftest import STACKS, stack_file
from workloads.model_layout import version_conflict

#: The sagemaker-core release whose tables the tests read (raise it to pick up new containers).
SAGEMAKER_CORE_VERSION = "2.27.0"
TABLES = "sagemaker/core/image_uri_config"

#: The SDK's scope for each of our image uses (processing jobs run the training image).
SDK_SCOPES = {"inference": "inference", "training": "training", "processing": "training"}

#: The library versions ``workloads`` trains with (pyproject's ranges; the tests' environment).
TRAINED_WITH = {"sklearn": "sklearn", "xgboost": "xgboost"}


@pytest.fixture(scope="module")
def sdk_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The SDK's image tables of our frameworks, by framework, from the pinned wheel."""
    folder = tmp_path_factory.mktemp("sagemaker-core")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(folder),
            f"sagemaker-core=={SAGEMAKER_CORE_VERSION}",
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = folder.glob("sagemaker_core-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return {
            framework: json.loads(archive.read(f"{TABLES}/{framework}.json"))
            for framework in PREBUILT_FRAMEWORK_TAGS
        }


def sdk_tags(table: dict[str, Any], scope: str) -> dict[str, dict[str, str]]:
    """Every tag the SDK builds in ``scope``, with its version's registry account per region.

    As the SDK's ``image_uris._format_tag`` builds them: the version (or its ``tag_prefix``),
    then each processor and each Python version the entry lists.
    """
    config = table[scope]
    tags: dict[str, dict[str, str]] = {}
    for version, entry in config["versions"].items():
        prefix = entry.get("tag_prefix", version)
        processors = config.get("processors") or entry.get("processors") or [None]
        for processor in processors:
            for python in entry.get("py_versions") or [None]:
                tag = "-".join(part for part in (prefix, processor, python) if part)
                tags[tag] = entry["registries"]
    return tags


def stack_regions() -> set[str]:
    """The region of every stack file (the regions this project deploys to)."""
    return {stack_file(stack)["aws:region"] for stack in STACKS}


def named_tags() -> list[tuple[str, str, str]]:
    """Every prebuilt tag we name: (use, framework, tag)."""
    return [
        *(("inference", framework, tag) for framework, tag in PREBUILT_FRAMEWORK_TAGS.items()),
        *(("training", framework, tag) for framework, tag in PREBUILT_TRAINING_TAGS.items()),
        ("training", "pytorch", PYTORCH_GPU_TRAINING_TAG),
        ("processing", "sklearn", PREBUILT_MONITORING_TAG),
    ]


@pytest.mark.parametrize(("use", "framework", "tag"), named_tags())
def test_every_tag_we_name_exists_in_every_stack_region(
    sdk_tables: dict[str, dict[str, Any]], use: str, framework: str, tag: str
) -> None:
    """Given a tag we name, then the SDK's table has it, in our repository, in each region."""
    scope = SDK_SCOPES[use]
    tags = sdk_tags(sdk_tables[framework], scope)
    assert tag in tags, f"{framework} {scope} has no tag {tag}"
    version = next(
        entry
        for version, entry in sdk_tables[framework][scope]["versions"].items()
        if tag.startswith(entry.get("tag_prefix", version))
    )
    assert version["repository"] == PREBUILT_REPOSITORIES[use][framework]
    assert stack_regions() <= set(tags[tag])


@pytest.mark.parametrize("use", ["inference", "training"])
def test_the_offline_registry_accounts_are_the_sdk_ones(
    sdk_tables: dict[str, dict[str, Any]], use: str
) -> None:
    """Given the mock runtime's prebuilt registry accounts, then they are the SDK's (us-east-1)."""
    for framework, tag in PREBUILT_FRAMEWORK_TAGS.items():
        registries = sdk_tags(sdk_tables[framework], SDK_SCOPES[use])[tag]
        repository = PREBUILT_REPOSITORIES[use][framework]
        offline = mock_runtime._PREBUILT_REGISTRY.get(repository, mock_runtime._SAGEMAKER_REGISTRY)
        assert offline == registries["us-east-1"], repository


@pytest.mark.parametrize("framework", sorted(TRAINED_WITH))
def test_the_default_containers_serve_what_we_train(framework: str) -> None:
    """Given the installed training library, then the default container's version fits it."""
    library = __import__(TRAINED_WITH[framework])
    serving = tag_version(PREBUILT_FRAMEWORK_TAGS[framework])
    assert version_conflict(framework, library.__version__, serving) is None
    assert PREBUILT_TRAINING_TAGS[framework] == PREBUILT_FRAMEWORK_TAGS[framework]


@pytest.mark.parametrize(
    ("tag", "version"),
    [("1.9-0-cpu-py3", "1.9"), ("3.2-0", "3.2"), ("2.6.0-cpu-py312", "2.6"), ("1.10-1", "1.10")],
)
def test_a_tag_names_its_major_minor_version(tag: str, version: str) -> None:
    """Given a prebuilt tag, then tag_version reads the framework version it starts with."""
    assert tag_version(tag) == version
