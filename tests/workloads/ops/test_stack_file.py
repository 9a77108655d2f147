"""Pinning a variant's model version in a copy of the dev stack file: one value changes, no more."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.workloads.ops.conftest import DEV_STACK, GREEN_ARTIFACT, changed_lines, dev_stack
from workloads.ops.errors import OpsError
from workloads.ops.stack_file import StackFile, config_set_command


def test_the_version_is_the_only_change(tmp_path: Path) -> None:
    # given blue pinned to churn version 3 (flow style)
    stack = StackFile.read(dev_stack(tmp_path))
    # when
    pinned = stack.variant_model("churn", "blue")
    new_text = stack.with_version(pinned, 7)
    # then
    assert (pinned.endpoint_index, pinned.variant_index) == (0, 0)
    assert (pinned.group, pinned.version) == ("churn", 3)
    assert pinned.config_path == "serving.endpoints[0].variants[0].model.version"
    assert changed_lines(stack.text, new_text) == [
        "-            model: {group: churn, version: 3}",
        "+            model: {group: churn, version: 7}",
    ]


def test_a_block_mapping_keeps_its_layout_and_comments(tmp_path: Path) -> None:
    # given green pinned in block style, with a comment after the version
    path = dev_stack(tmp_path)
    text = path.read_text().replace(
        GREEN_ARTIFACT,
        "            model:\n              group: churn\n"
        "              version: 12  # approved 2026-12-01\n",
    )
    path.write_text(text)
    stack = StackFile.read(path)
    # when
    pinned = stack.variant_model("churn", "green")
    new_text = stack.with_version(pinned, 13)
    # then
    assert pinned.config_path == "serving.endpoints[0].variants[1].model.version"
    assert changed_lines(text, new_text) == [
        "-              version: 12  # approved 2026-12-01",
        "+              version: 13  # approved 2026-12-01",
    ]


def test_line_endings_and_a_quoted_version_are_handled(tmp_path: Path) -> None:
    # given a file with CRLF line endings and the version quoted
    path = dev_stack(tmp_path, blue="model: {group: churn, version: '3'}")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    stack = StackFile.read(path)
    # when
    pinned = stack.variant_model("churn", "blue")
    stack.write(stack.with_version(pinned, 4))
    # then the quotes go (a number now), every line ending is still CRLF
    after = path.read_bytes()
    assert b"model: {group: churn, version: 4}\r\n" in after
    assert after.count(b"\r\n") == after.count(b"\n")
    assert yaml.safe_load(after)["config"]["ml-platform:environment"] == "dev"


@pytest.mark.parametrize(
    ("endpoint", "variant", "message"),
    [
        (
            "fraud",
            "blue",
            "Stack file '{path}' has no endpoint 'fraud' (it has: churn, churn-sandbox)",
        ),
        (
            "churn",
            "red",
            "Stack file '{path}': endpoint 'churn' has no variant 'red' (it has: blue, green)",
        ),
        (
            "churn",
            "green",
            "Stack file '{path}': variant 'green' of endpoint 'churn' does not deploy from the"
            " model registry (it has no model: {{group, version}})",
        ),
    ],
)
def test_a_variant_that_is_not_pinned_is_refused(
    tmp_path: Path, endpoint: str, variant: str, message: str
) -> None:
    # given the dev copy (green deploys an artifact)
    path = dev_stack(tmp_path)
    # when / then
    with pytest.raises(OpsError) as refused:
        StackFile.read(path).variant_model(endpoint, variant)
    assert str(refused.value) == message.format(path=path)


def test_a_model_without_a_version_is_refused(tmp_path: Path) -> None:
    # given blue names a group only
    path = dev_stack(tmp_path, blue="model: {group: churn}")
    # when / then
    with pytest.raises(OpsError) as refused:
        StackFile.read(path).variant_model("churn", "blue")
    assert str(refused.value) == (
        f"Stack file '{path}': variant 'blue' of endpoint 'churn': model needs both a group"
        " and a version"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("config: [unclosed", "Stack file '{path}' is not valid YAML: "),
        ("encryptionsalt: abc\n", "Stack file '{path}' has no 'config' mapping"),
    ],
)
def test_an_unreadable_stack_file_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    # given
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(content)
    # when / then
    with pytest.raises(OpsError) as refused:
        StackFile.read(path)
    assert str(refused.value).startswith(message.format(path=path))
    assert "\n" not in str(refused.value)


def test_a_missing_stack_file_is_refused(tmp_path: Path) -> None:
    # given / when / then
    with pytest.raises(OpsError, match=r"^Cannot read stack file '.*Pulumi.none.yaml': "):
        StackFile.read(tmp_path / "Pulumi.none.yaml")


def test_an_anchored_version_is_left_to_a_human(tmp_path: Path) -> None:
    # given blue's version carries an anchor that green's weight uses
    path = dev_stack(tmp_path, blue="model: {group: churn, version: &pin 3}")
    path.write_text(path.read_text().replace("weight: 10", "weight: *pin"))
    stack = StackFile.read(path)
    pinned = stack.variant_model("churn", "blue")
    # when / then
    with pytest.raises(OpsError) as refused:
        stack.with_version(pinned, 7)
    assert str(refused.value) == (
        f"Stack file '{path}': setting serving.endpoints[0].variants[0].model.version in place"
        " would break the YAML (an anchor on the version?); edit it by hand"
    )


def test_the_config_command_names_the_path(tmp_path: Path) -> None:
    # given
    pinned = StackFile.read(dev_stack(tmp_path)).variant_model("churn", "blue")
    # when / then
    assert config_set_command("dev", pinned, 7) == (
        "pulumi config set --stack dev --path 'serving.endpoints[0].variants[0].model.version' 7"
    )


def test_the_dev_stack_files_own_pin_is_found_and_edited(tmp_path: Path) -> None:
    # given an untouched copy of Pulumi.dev.yaml (green runs churn version 1 from the registry)
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_bytes(DEV_STACK.read_bytes())
    stack = StackFile.read(path)
    # when
    pinned = stack.variant_model("churn", "green")
    new_text = stack.with_version(pinned, 2)
    # then
    assert (pinned.group, pinned.version) == ("churn", 1)
    assert changed_lines(stack.text, new_text) == [
        "-            model: { group: churn, version: 1 }",
        "+            model: { group: churn, version: 2 }",
    ]
