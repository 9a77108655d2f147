r"""``python -m workloads.features.cli``: ingest a file into a feature group, or look records up.

The group's definition comes from the stack file (``ml-platform:feature_store`` in
``Pulumi.<stack>.yaml``) and its SageMaker name from the environment, so the command line never
restates a schema::

    python -m workloads.features.cli ingest --stack-file Pulumi.dev.yaml --environment dev \
        --group customers --input data.csv --reject-file rejects.jsonl [--max-workers 8]
    python -m workloads.features.cli lookup --stack-file Pulumi.dev.yaml --environment dev \
        --group customers --id c-1 --id c-2 [--feature segment]

``--group`` is a group name (its newest version) or ``name@vN``. Results are JSON on stdout.
Exit status: 0 everything written (or looked up); 2 some records were rejected (the reject file's
path is on stderr); 1 a usage or configuration error, or a run that had to stop (message on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError

from workloads.features.definitions import DefinitionError, FeatureGroupDefinition, load_definitions
from workloads.features.ingestion import (
    FeatureStoreClient,
    IngestionStopped,
    default_client,
    ingest,
    read_records,
)
from workloads.features.online import FeatureLookupError, OnlineFeatures

EXIT_OK, EXIT_ERROR, EXIT_REJECTED = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or configuration; printed as ``error: ...`` with exit status 1."""


def make_client(region: str | None, max_workers: int) -> FeatureStoreClient:
    """The feature-store runtime client the commands use (tests replace this function)."""
    return default_client(max_workers=max_workers, region=region)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.command(args))
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else EXIT_OK
    except (UsageError, DefinitionError, IngestionStopped, FeatureLookupError) as error:
        print(f"error: {error}", file=sys.stderr)
    except (OSError, ValueError, KeyError, BotoCoreError) as error:
        # KeyError's str() is the repr of its message; show the message itself.
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1 like every other error (2 means rejected records)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with the ``ingest`` and ``lookup`` commands."""
    parser = _Parser(
        prog="python -m workloads.features.cli",
        description="Feature store: ingest records into a feature group, or look records up.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack-file", required=True, help="Pulumi.<stack>.yaml with the groups")
    common.add_argument("--environment", required=True, help="the stack's environment, e.g. dev")
    common.add_argument("--group", required=True, help="group name, or name@vN for a version")
    common.add_argument("--region", help="AWS region (default: the environment's)")
    commands = parser.add_subparsers(
        title="commands", required=True, metavar="COMMAND", parser_class=_Parser
    )

    ingest_ = commands.add_parser(
        "ingest", parents=[common], help="write a CSV, JSON Lines or Parquet file to the group"
    )
    ingest_.add_argument("--input", required=True, help=".csv, .jsonl or .parquet file")
    ingest_.add_argument(
        "--reject-file", required=True, help="JSON Lines file for records not written"
    )
    ingest_.add_argument("--max-workers", type=_positive_int, default=8, help="threads (8)")
    ingest_.set_defaults(command=_ingest)

    lookup = commands.add_parser(
        "lookup", parents=[common], help="print the online values of records as JSON"
    )
    lookup.add_argument(
        "--id", dest="ids", action="append", required=True, help="record identifier, repeatable"
    )
    lookup.add_argument(
        "--feature", dest="features", action="append", help="feature to return, repeatable"
    )
    lookup.set_defaults(command=_lookup)
    return parser


def _ingest(args: argparse.Namespace) -> int:
    definition = _definition(args.stack_file, args.group)
    records = read_records(args.input)  # refuses an unknown file type before any AWS call
    client = make_client(args.region, args.max_workers)
    report = ingest(
        records,
        definition,
        group_name=definition.group_name(args.environment),
        client=client,
        max_workers=args.max_workers,
        reject_file=args.reject_file,
    )
    print(json.dumps(report.to_dict(), indent=2))
    if report.rejected_total:
        print(
            f"{report.rejected_total} of {report.read} records rejected; see {args.reject_file}",
            file=sys.stderr,
        )
        return EXIT_REJECTED
    return EXIT_OK


def _lookup(args: argparse.Namespace) -> int:
    definition = _definition(args.stack_file, args.group)
    online = OnlineFeatures(
        definition,
        definition.group_name(args.environment),
        make_client(args.region, max_workers=1),
    )
    found = online.get_many(args.ids, args.features)
    output: dict[str, Any] = {record_id: found.get(record_id) for record_id in args.ids}
    print(json.dumps(output, indent=2))
    return EXIT_OK


def _definition(stack_file: str, group: str) -> FeatureGroupDefinition:
    definitions = load_definitions(stack_file)
    if group not in definitions:
        known = sorted(name for name in definitions if "@" not in name)
        raise UsageError(
            f"{stack_file} defines no feature group '{group}' "
            f"(it defines: {', '.join(known) or 'none'})"
        )
    return definitions[group]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


if __name__ == "__main__":
    sys.exit(main())
