"""Pinning a serving variant's registered model version in a stack file, and nothing else.

A variant that deploys from the model registry names ``model: {group: <short group>, version: N}``
under ``ml-platform:serving.endpoints[i].variants[j]`` of ``Pulumi.<stack>.yaml``. Promoting
version N rewrites that one number in place: every other byte of the file (comments, order,
quoting, line endings) stays as it was, so the change reviews as a one-line diff in git. The edit
is located through PyYAML's node marks and checked by parsing the result again.
"""

from __future__ import annotations

import copy
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workloads.ops.errors import OpsError

#: The project's config namespace (``name`` in Pulumi.yaml) and the serving section's key.
SERVING_KEY = "ml-platform:serving"
ENVIRONMENT_KEY = "ml-platform:environment"


@dataclass(frozen=True)
class VariantModel:
    """Where a variant's registered model is pinned in a stack file."""

    endpoint_index: int
    """The endpoint's index in ``serving.endpoints``."""
    variant_index: int
    """The variant's index in the endpoint's ``variants``."""
    group: str
    """The short group name the variant deploys from (``churn`` for ``mlp-dev-churn``)."""
    version: Any
    """The version the file pins now (as YAML reads it)."""
    start: int
    """Where the version's text starts in the file (character offset)."""
    end: int
    """Where it ends (exclusive)."""

    @property
    def config_path(self) -> str:
        """The value's path for ``pulumi config set --path`` (project namespace implied)."""
        return (
            f"serving.endpoints[{self.endpoint_index}].variants[{self.variant_index}].model.version"
        )


@dataclass(frozen=True)
class StackFile:
    """A stack file's text (line endings kept) and the parts of it promotion needs."""

    path: Path
    text: str
    environment: str | None
    """``ml-platform:environment``, when set."""
    root: yaml.Node

    @classmethod
    def read(cls, path: str | Path) -> StackFile:
        """Read and parse ``path``; an unreadable or malformed file is an ``OpsError``."""
        path = Path(path)
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                text = handle.read()
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except (OSError, UnicodeDecodeError) as error:
            raise OpsError(f"Cannot read stack file '{path}': {error}") from error
        except yaml.YAMLError as error:
            problem = " ".join(str(error).split())
            raise OpsError(f"Stack file '{path}' is not valid YAML: {problem}") from error
        if root is None or not isinstance(data, dict) or not isinstance(data.get("config"), dict):
            raise OpsError(f"Stack file '{path}' has no 'config' mapping")
        environment = data["config"].get(ENVIRONMENT_KEY)
        return cls(path, text, str(environment) if environment else None, root)

    def variant_model(self, endpoint: str, variant: str) -> VariantModel:
        """The pinned model of ``endpoint``'s ``variant``; ``OpsError`` when there is none."""
        where = f"Stack file '{self.path}'"
        endpoints = _at(_at(self.root, "config"), SERVING_KEY, "endpoints")
        if not isinstance(endpoints, yaml.SequenceNode):
            raise OpsError(f"{where} has no {SERVING_KEY}.endpoints list")
        endpoint_index, endpoint_node = _named(endpoints, endpoint, f"{where} has no endpoint")
        variants = _at(endpoint_node, "variants")
        if not isinstance(variants, yaml.SequenceNode):
            raise OpsError(f"{where}: endpoint '{endpoint}' has no variants list")
        variant_index, variant_node = _named(
            variants, variant, f"{where}: endpoint '{endpoint}' has no variant"
        )
        subject = f"{where}: variant '{variant}' of endpoint '{endpoint}'"
        model = _at(variant_node, "model")
        if not isinstance(model, yaml.MappingNode):
            raise OpsError(
                f"{subject} does not deploy from the model registry"
                " (it has no model: {group, version})"
            )
        group, version = _at(model, "group"), _at(model, "version")
        if not isinstance(group, yaml.ScalarNode) or not isinstance(version, yaml.ScalarNode):
            raise OpsError(f"{subject}: model needs both a group and a version")
        return VariantModel(
            endpoint_index=endpoint_index,
            variant_index=variant_index,
            group=group.value,
            version=yaml.safe_load(self.text[version.start_mark.index : version.end_mark.index]),
            start=version.start_mark.index,
            end=version.end_mark.index,
        )

    def with_version(self, pinned: VariantModel, version: int) -> str:
        """The file's text with ``pinned``'s version set to ``version``, checked by re-parsing.

        Parsing the new text must give the old data with exactly that one value changed.
        """
        new_text = f"{self.text[: pinned.start]}{version}{self.text[pinned.end :]}"
        expected = copy.deepcopy(yaml.safe_load(self.text))
        serving = expected["config"][SERVING_KEY]
        variant = serving["endpoints"][pinned.endpoint_index]["variants"][pinned.variant_index]
        variant["model"]["version"] = version
        try:
            parsed = yaml.safe_load(new_text)
        except yaml.YAMLError as error:
            raise OpsError(
                f"Stack file '{self.path}': setting {pinned.config_path} in place would break"
                " the YAML (an anchor on the version?); edit it by hand"
            ) from error
        if parsed != expected:
            raise OpsError(
                f"Stack file '{self.path}': the edit would change more than"
                f" {pinned.config_path}; edit it by hand"
            )
        return new_text

    def write(self, text: str) -> None:
        """Replace the file's content with ``text`` (line endings as given)."""
        try:
            with self.path.open("w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as error:
            raise OpsError(f"Cannot write stack file '{self.path}': {error}") from error


def config_set_command(stack: str, pinned: VariantModel, version: int) -> str:
    """The ``pulumi config set`` command that pins ``version`` (integers stay numbers)."""
    return (
        f"pulumi config set --stack {shlex.quote(stack)} --path"
        f" {shlex.quote(pinned.config_path)} {version}"
    )


def _at(node: yaml.Node | None, *keys: str) -> yaml.Node | None:
    """The value under ``keys`` in nested mappings, or None (the last duplicate key wins)."""
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        values = [
            value
            for key_node, value in node.value
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key
        ]
        node = values[-1] if values else None
    return node


def _named(items: yaml.SequenceNode, name: str, missing: str) -> tuple[int, yaml.Node]:
    """The index and node of the mapping in ``items`` whose ``name`` is ``name``."""
    names = []
    for index, item in enumerate(items.value):
        item_name = _at(item, "name")
        if isinstance(item_name, yaml.ScalarNode):
            if item_name.value == name:
                return index, item
            names.append(item_name.value)
    raise OpsError(f"{missing} '{name}' (it has: {', '.join(names) or 'none'})")
