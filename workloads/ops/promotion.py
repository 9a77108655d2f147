"""Promoting a registered model version: approve it and pin it in the stack's config.

Promotion is a reviewable change: the version is approved in the registry with the reason
recorded on the package (ApprovalDescription), and the serving variant's ``model.version`` in
``Pulumi.<stack>.yaml`` is rewritten in place (or the exact ``pulumi config set`` command is
printed), so what production runs changes through a diff in git and the next ``pulumi up``.
Everything that can be checked is checked before anything changes: the stack file must name the
endpoint and variant, and the variant must deploy from the same group.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workloads.ops.clients import SageMakerClient
from workloads.ops.errors import OpsError
from workloads.ops.registry import VersionDecision, approve_version
from workloads.ops.stack_file import StackFile, VariantModel, config_set_command

if TYPE_CHECKING:
    import boto3


@dataclass(frozen=True)
class VariantTarget:
    """The serving variant to pin, and how: edit ``stack_file``, or print a command for ``stack``.

    Exactly one of ``stack_file`` and ``stack`` is set; with ``stack`` the file read (never
    written) to find the variant is ``Pulumi.<stack>.yaml`` in the current directory.
    """

    endpoint: str
    variant: str
    stack_file: str | None = None
    stack: str | None = None

    def __post_init__(self) -> None:
        if (self.stack_file is None) == (self.stack is None):
            raise ValueError("pass exactly one of stack_file and stack")

    @property
    def path(self) -> Path:
        """The stack file to read."""
        return Path(self.stack_file or f"Pulumi.{self.stack}.yaml")


@dataclass(frozen=True)
class Promotion:
    """An approved version and where the stack now pins it."""

    decision: VersionDecision
    target: VariantTarget | None = None
    previous_version: Any = None
    """The version the variant pinned before (None without a target)."""
    config_path: str | None = None
    """The value's ``pulumi config set --path`` path (None without a target)."""
    config_command: str | None = None
    """The command to run when the file was not edited (``stack`` given)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the decision's fields, then the stack change."""
        result = self.decision.to_dict()
        if self.target is not None:
            result |= {
                "endpoint": self.target.endpoint,
                "variant": self.target.variant,
                "stack_file": str(self.target.path),
                "stack_file_written": self.config_command is None,
                "config_path": self.config_path,
                "previous_version": self.previous_version,
                "config_command": self.config_command,
            }
        return result


def promote_version(
    group_name: str,
    version: int,
    reason: str,
    target: VariantTarget | None = None,
    *,
    client: SageMakerClient | None = None,
    session: boto3.Session | None = None,
) -> Promotion:
    """Approve version ``version`` of ``group_name`` and pin it for ``target``'s variant.

    ``OpsError`` (one line, nothing changed) when the stack file cannot be read, does not name
    the endpoint or variant, the variant does not deploy from the registry or deploys another
    group, or when the approval is refused (see :func:`~workloads.ops.registry.approve_version`).
    """
    if target is None:
        return Promotion(
            approve_version(group_name, version, reason, client=client, session=session)
        )
    stack_file = StackFile.read(target.path)
    pinned = _pinned_variant(stack_file, target, group_name)
    new_text = stack_file.with_version(pinned, version)
    decision = approve_version(group_name, version, reason, client=client, session=session)
    if target.stack is not None:
        command = config_set_command(target.stack, pinned, version)
    else:
        stack_file.write(new_text)
        command = None
    return Promotion(decision, target, pinned.version, pinned.config_path, command)


def _pinned_variant(stack_file: StackFile, target: VariantTarget, group_name: str) -> VariantModel:
    """The variant's pinned model, refused unless it deploys from ``group_name``."""
    where = f"Stack file '{stack_file.path}'"
    if stack_file.environment is None:
        raise OpsError(f"{where} sets no ml-platform:environment")
    prefix = f"mlp-{stack_file.environment}-"
    if not group_name.startswith(prefix) or group_name == prefix:
        raise OpsError(
            f"{where} is environment '{stack_file.environment}', whose groups are named"
            f" {prefix}<group>; '{group_name}' is not one of them"
        )
    pinned = stack_file.variant_model(target.endpoint, target.variant)
    short = group_name.removeprefix(prefix)
    if pinned.group != short:
        raise OpsError(
            f"{where}: variant '{target.variant}' of endpoint '{target.endpoint}' deploys"
            f" group '{pinned.group}', not '{short}'"
        )
    return pinned
