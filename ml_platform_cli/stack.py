"""Names and AWS settings resolved from a stack file, for the commands that talk to AWS.

``ml-platform endpoints status churn --stack dev`` reads ``Pulumi.dev.yaml``: the resource is
``mlp-<environment>-churn`` (the platform's naming rule, ``ml-platform:environment``), the region
``aws:region``. ``--region`` and ``--profile`` override; without a stack, names are taken as
given and the region comes from the environment (``AWS_DEFAULT_REGION``, the profile).

A command declares the four options with :func:`stack_options` and receives them as one
:class:`StackOptions`; it reads the stack file (``.context()``) or opens a checked session
(``.connect()``) only when it gets that far.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from ml_platform_cli.errors import FAILED, USAGE, CliError

#: The platform's resource name prefix; a name that already starts with it is used as given.
NAME_PREFIX = "mlp-"

#: What to do about a missing region, for the commands with the stack options.
REGION_ADVICE = "pass --region or --stack, or set AWS_DEFAULT_REGION"


def stack_options(function: Any) -> Any:
    """Add ``--stack``, ``--stack-file``, ``--region`` and ``--profile`` to a click command.

    The command gets them as one parameter, ``where`` (a :class:`StackOptions`), which reads the
    stack file and opens a session only when asked to.
    """

    @functools.wraps(function)
    def command(
        *args: Any,
        stack: str | None,
        stack_file: Path | None,
        region: str | None,
        profile: str | None,
        **kwargs: Any,
    ) -> Any:
        return function(*args, where=StackOptions(stack, stack_file, region, profile), **kwargs)

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
        command = option(command)
    return command


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


@dataclass(frozen=True)
class StackOptions:
    """A command's ``--stack``/``--stack-file``/``--region``/``--profile``, resolved on demand.

    Nothing is read when it is made: a command that never calls AWS (``models register
    --tracking-uri``) needs neither a stack file nor credentials.
    """

    stack: str | None
    """``--stack``: the stack whose ``Pulumi.<stack>.yaml`` names things."""
    stack_file: Path | None
    """``--stack-file``: a stack file read instead of ``Pulumi.<stack>.yaml``."""
    region: str | None
    """``--region``: overrides the stack's ``aws:region``."""
    profile: str | None
    """``--profile``: the AWS profile (None: the environment's)."""

    @property
    def label(self) -> str | None:
        """How messages name the stack (``stack dev``, ``stack file x.yaml``; None without one)."""
        if self.stack_file is not None:
            return f"stack file {self.stack_file}"
        if self.stack is not None:
            return f"stack {self.stack}"
        return None

    def context(self) -> StackContext:
        """Names and settings from the stack file (an invalid or missing one: exit 2)."""
        return self._context

    @functools.cached_property
    def _context(self) -> StackContext:
        # Read once per command, so a command's usage checks and its AWS calls see one file.
        return resolve(self.stack, self.stack_file, self.region, self.profile)

    def connect(self) -> AwsTarget:
        """A session that has a region and credentials; without either: one line, exit 1.

        Both are checked before any call, so an operation never half-runs for want of them.
        """
        context = self.context()
        session = context.session()
        if not session.region_name:
            raise CliError(f"no AWS region configured; {REGION_ADVICE}", FAILED)
        if session.get_credentials() is None:
            from botocore.exceptions import NoCredentialsError

            from workloads.aws_errors import botocore_problem

            raise CliError(botocore_problem(NoCredentialsError()), FAILED)
        return AwsTarget(context, session, str(session.region_name), self.label)


@dataclass(frozen=True)
class AwsTarget:
    """Where a command's AWS calls go: the stack context, its session and the region."""

    context: StackContext
    """Names and settings from the stack file (empty without one)."""
    session: Any
    """A boto3 session with a region and credentials."""
    region: str
    """The region the session calls."""
    stack_label: str | None
    """How messages name the stack (``stack dev``, ``stack file x.yaml``; None without one)."""

    @property
    def where(self) -> str:
        """``in us-east-1 (stack dev)``: where a missing resource was looked for."""
        return f"in {self.region}" + (f" ({self.stack_label})" if self.stack_label else "")


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
