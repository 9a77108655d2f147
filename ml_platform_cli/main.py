"""The ``ml-platform`` entry point: runs the command tree, turns every failure into one line.

Exit codes (docs/cli.md): 0 done, 1 the operation failed, 2 bad usage, 3 a check found something
(drift, plan differences), 130 interrupted. A library the command needs but the machine lacks is a
one-line exit 1 naming what to install, never an import traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: Which extra of the project installs a top-level module a command may import.
EXTRA_OF_MODULE = {
    "rich": "cli",
    "click": "cli",
    "pulumi": "infra",
    "pulumi_aws": "infra",
    "pulumi_kubernetes": "infra",
    "pulumi_random": "infra",
    "pydantic": "infra",
    "numpy": "workloads",
    "sklearn": "workloads",
    "xgboost": "workloads",
    "torch": "workloads",
    "joblib": "workloads",
    "boto3": "workloads",
    "botocore": "workloads",
    "pandas": "training",
    "mlflow": "training",
    "skops": "training",
    "pyarrow": "features",
    "scipy": "monitoring",
    "yaml": "infra",
}


def missing_module_message(name: str | None) -> str | None:
    """The one-line advice for a missing top-level module (None: not a library we install)."""
    missing = (name or "").split(".")[0]
    if not missing or missing in {"workloads", "stacks", "components", "ml_platform_cli"}:
        return None
    extra = EXTRA_OF_MODULE.get(missing, "workloads")
    return (
        f"the Python package '{missing}' is not installed; install what the command needs with "
        f"`make install` (or `pip install -e '.[{extra}]'`)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ml-platform`` with ``argv`` (default: the process's arguments); the exit status."""
    try:
        import click

        from ml_platform_cli.app import build_command
        from ml_platform_cli.errors import FAILED, INTERRUPTED, USAGE, CliError

        command = build_command()
    except ModuleNotFoundError as error:
        message = missing_module_message(error.name)
        if message is None:
            raise
        print(f"ml-platform: error: {message}", file=sys.stderr)
        return 1
    try:
        result = command.main(
            args=list(sys.argv[1:] if argv is None else argv),
            prog_name="ml-platform",
            standalone_mode=False,
        )
    except CliError as error:
        return _fail(error.message, error.exit_code)
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.Abort:
        return _fail("interrupted", INTERRUPTED)
    except click.exceptions.NoArgsIsHelpError as error:
        # A group given no command (``ml-platform``, ``ml-platform models``): its help, as a
        # question rather than a mistake.
        click.echo(error.ctx.get_help() if error.ctx is not None else error.format_message())
        return 0
    except click.UsageError as error:
        where = error.ctx.command_path if error.ctx is not None else "ml-platform"
        message = " ".join(error.format_message().split())
        return _fail(f"{message} (see `{where} --help`)", USAGE)
    except click.ClickException as error:
        return _fail(" ".join(error.format_message().split()), error.exit_code or FAILED)
    except KeyboardInterrupt:
        return _fail("interrupted", INTERRUPTED)
    except ModuleNotFoundError as error:
        message = missing_module_message(error.name)
        if message is None:
            raise
        return _fail(message, FAILED)
    except Exception as error:
        message = _aws_message(error)
        if message is None:
            raise
        return _fail(message, FAILED)
    return result if isinstance(result, int) else 0


def _aws_message(error: Exception) -> str | None:
    """One line for a boto error that a command did not translate itself (else None)."""
    if not type(error).__module__.startswith(("botocore", "boto3")):
        return None
    from workloads.aws_errors import aws_problem

    return aws_problem(error, region_advice="pass --region or --stack, or set AWS_DEFAULT_REGION")


def _fail(message: str, exit_code: int) -> int:
    print(f"ml-platform: error: {message}", file=sys.stderr)
    return exit_code
