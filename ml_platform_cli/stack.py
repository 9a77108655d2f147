"""Names and AWS settings resolved from a stack file, for the commands that talk to AWS.

``ml-platform endpoints status churn --stack dev`` reads ``Pulumi.dev.yaml``: the resource is
``mlp-<environment>-churn`` (the platform's naming rule, ``ml-platform:environment``), the region
``aws:region``. ``--region`` and ``--profile`` override; without a stack, names are taken as
given and the region comes from the environment (``AWS_DEFAULT_REGION``, the profile).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from ml_platform_cli.errors import USAGE, CliError

#: The platform's resource name prefix; a name that already starts with it is used as given.
NAME_PREFIX = "mlp-"


def stack_options(function: Any) -> Any:
    """Add ``--stack``, ``--stack-file``, ``--region`` and ``--profile`` to a click command."""
    options = (
        click.option(
            "--stack",
            "-s",
            help="stack name: reads Pulumi.<stack>.yaml in the current directory for names and"
            " region",
        ),
        click.option(
            "--stack-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="a stack file to read instead of Pulumi.<stack>.yaml",
        ),
        click.option(
            "--region", help="AWS region (default: the stack's aws:region, else the environment's)"
        ),
        click.option("--profile", help="AWS profile (default: the environment's)"),
    )
    for option in reversed(options):
        function = option(function)
    return function


#: ``--json`` for every read command.
json_option = click.option("--json", "as_json", is_flag=True, help="print the result as JSON")


@dataclass(frozen=True)
class StackContext:
    """What a command needs to find a stack's resources in AWS."""

    stack_file: Path | None
    """The stack file read (None: no stack given)."""
    environment: str | None
    """``ml-platform:environment`` (None without a stack)."""
    region: str | None
    """The region to call (None: boto3's own resolution)."""
    profile: str | None
    """The AWS profile (None: the environment's)."""
    config: dict[str, Any]
    """The stack file's ``config`` mapping (empty without a stack)."""

    def resource_name(self, name: str) -> str:
        """``name`` as deployed: ``mlp-<env>-<name>``, unless it is already a full name.

        Without a stack a short name cannot be expanded and is used as given.
        """
        if name.startswith(NAME_PREFIX) or self.environment is None:
            return name
        return f"{NAME_PREFIX}{self.environment}-{name}"

    def setting(self, key: str) -> Any:
        """The project setting ``ml-platform:<key>`` of the stack file (None when absent)."""
        return self.config.get(f"ml-platform:{key}")

    def session(self) -> Any:
        """A boto3 session for ``profile`` and ``region`` (an unknown profile: exit 2)."""
        import boto3
        from botocore.exceptions import ProfileNotFound

        try:
            return boto3.Session(profile_name=self.profile, region_name=self.region)
        except ProfileNotFound as error:
            raise CliError(f"{error}; pass an existing --profile", USAGE) from error


def resolve(
    stack: str | None,
    stack_file: Path | None = None,
    region: str | None = None,
    profile: str | None = None,
    *,
    directory: Path | None = None,
) -> StackContext:
    """The context of ``--stack``/``--stack-file``/``--region``/``--profile``.

    A stack whose file is missing, unreadable or has no ``config`` mapping is a usage error that
    names the file.
    """
    path = stack_file
    if path is None and stack is not None:
        path = (directory or Path.cwd()) / f"Pulumi.{stack}.yaml"
    if path is None:
        return StackContext(None, None, region, profile, {})
    config = _read_config(path, stack)
    environment = config.get("ml-platform:environment") or stack
    return StackContext(
        stack_file=path,
        environment=str(environment) if environment else None,
        region=region or _text(config.get("aws:region")),
        profile=profile,
        config=config,
    )


def _read_config(path: Path, stack: str | None) -> dict[str, Any]:
    if not path.is_file():
        hint = " (run from the project directory, or pass --stack-file)" if stack else ""
        raise CliError(f"stack file '{path}' not found{hint}", USAGE)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read stack file '{path}': {error}", USAGE) from error
    except yaml.YAMLError as error:
        problem = " ".join(str(error).split())
        raise CliError(f"stack file '{path}' is not valid YAML: {problem}", USAGE) from error
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise CliError(f"stack file '{path}' has no 'config' mapping", USAGE)
    return data["config"]


def _text(value: Any) -> str | None:
    return str(value) if value else None
