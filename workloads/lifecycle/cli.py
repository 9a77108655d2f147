"""``ml-platform-lifecycle`` (also ``python -m workloads.lifecycle``): the MLflow model registry.

* ``register NAME (--model-dir DIR | --run-id RUN) [--metrics evaluation.json]``: a new version
  of ``NAME`` whose artifact is the model directory (the training run's ``model/`` artifact when
  a run logged it), or the run's ``model/`` artifact;
* ``promote NAME --version N [--alias champion] --reason TEXT``: point the alias at version N and
  record why on the version;
* ``versions NAME [--json]``: every version, newest first, with aliases, metrics and source.

Every command takes ``--tracking-uri`` (default ``$MLFLOW_TRACKING_URI``; one of them is
required). Exit status: 0 done, 1 an error (one line naming the model, version, alias or file),
2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from workloads.lifecycle.registry import (
    RegistryError,
    list_versions,
    open_registry,
    promote,
    register,
    tracking_uri_or_fail,
    versions_table,
)
from workloads.model_layout import ModelLayoutError
from workloads.training import contract
from workloads.training.tracking import TrackingUnavailable

EXIT_OK, EXIT_ERROR = 0, 1
DEFAULT_ALIAS = "champion"
"""The alias ``promote`` moves unless told otherwise: the version that serves."""

EXAMPLES = """examples:
  ml-platform-lifecycle register churn --model-dir build/models/churn \\
      --metrics build/evaluation/churn/evaluation.json --tracking-uri sqlite:///build/mlflow.db
  ml-platform-lifecycle promote churn --version 1 --reason "first model" \\
      --tracking-uri sqlite:///build/mlflow.db
  ml-platform-lifecycle versions churn --json --tracking-uri sqlite:///build/mlflow.db
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="ml-platform-lifecycle",
        description="Register model directories in MLflow's model registry, move the alias that "
        "serves, list versions.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--tracking-uri",
        help=f"the MLflow store (default: ${contract.MLFLOW_TRACKING_URI_ENV})",
    )
    common.add_argument("name", help="the registered model's name")
    commands = parser.add_subparsers(dest="command", required=True)

    registering = commands.add_parser(
        "register", parents=[common], help="register a model directory as a new version"
    )
    artifact = registering.add_mutually_exclusive_group(required=True)
    artifact.add_argument("--model-dir", type=Path, help="the model directory the trainer wrote")
    artifact.add_argument("--run-id", help="or an MLflow run whose model/ artifact is one")
    registering.add_argument(
        "--metrics",
        type=Path,
        help="evaluation.json (or a metrics.json) whose metrics the version records "
        "(default: the training run's validation metrics in metadata.json)",
    )
    registering.add_argument("--json", action="store_true", help="print the result as JSON")

    promoting = commands.add_parser(
        "promote", parents=[common], help="point an alias at a version, saying why"
    )
    promoting.add_argument("--version", type=int, required=True)
    promoting.add_argument("--alias", default=DEFAULT_ALIAS, help=f"default {DEFAULT_ALIAS}")
    promoting.add_argument("--reason", required=True, help="why, recorded on the version")
    promoting.add_argument("--json", action="store_true", help="print the result as JSON")

    listing = commands.add_parser("versions", parents=[common], help="list the versions")
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    return parser


def run(arguments: argparse.Namespace) -> str:
    """Do what the arguments ask; the text to print."""
    client = open_registry(tracking_uri_or_fail(arguments.tracking_uri))
    name = arguments.name
    if arguments.command == "register":
        done = register(
            client,
            name,
            arguments.model_dir,
            run_id=arguments.run_id or "",
            metrics_file=arguments.metrics,
        )
        if arguments.json:
            return json.dumps(done.to_dict(), sort_keys=True)
        origin = "the training run's artifact" if done.reused_run else "logged by this command"
        return f"{name}: version {done.version} registered from {done.source} ({origin})"
    if arguments.command == "promote":
        moved = promote(client, name, arguments.version, arguments.alias, arguments.reason)
        if arguments.json:
            return json.dumps(moved.to_dict(), sort_keys=True)
        before = f"version {moved.previous}" if moved.previous else "unset"
        return f"{name}@{moved.alias}: {before} -> version {moved.version}"
    versions = list_versions(client, name)
    if arguments.json:
        return json.dumps(versions, sort_keys=True)
    return versions_table(versions)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (see the module docstring)."""
    arguments = build_parser().parse_args(argv)
    try:
        printed = run(arguments)
    except (RegistryError, ModelLayoutError, TrackingUnavailable) as error:
        print(f"ml-platform-lifecycle {arguments.command}: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(printed)
    return EXIT_OK
