r"""``python -m workloads.features.cli``: ingest a file into a feature group, or look records up.

The group's definition comes from the stack file (``ml-platform:feature_store`` in
``Pulumi.<stack>.yaml``) and its SageMaker name from the environment, so the command line never
restates a schema::

    python -m workloads.features.cli ingest --stack-file Pulumi.dev.yaml --environment dev \
        --group customers --input data.csv --reject-file rejects.jsonl [--max-workers 8]
    python -m workloads.features.cli lookup --stack-file Pulumi.dev.yaml --environment dev \
        --group customers --id c-1 --id c-2 [--feature segment]

``--group`` is a group name (its newest version) or ``name@vN``. The region is ``--region``, else
the stack file's ``aws:region``, else the environment's. Results are JSON on stdout.
``ingest`` always prints its report (also when the run stops); the ``--max-*`` flags set the
bounds on one input record (:class:`~workloads.features.limits.InputLimits`): a record past one
is rejected with a reason naming the flag.

Exit status: 0 everything written (or looked up); 2 some records were rejected (the reject file's
path is on stderr); 1 a usage or configuration error, an input that cannot be read (an unknown
file type, a repeated or unreadable CSV header, a file that is not Parquet: nothing is written),
a run that had to stop, or no AWS region or credentials (report on stdout, one-line message on
stderr naming the command and what to do, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, NoCredentialsError

from workloads.aws_errors import botocore_problem
from workloads.features.definitions import DefinitionError, FeatureGroupDefinition, load_definitions
from workloads.features.ingestion import (
    FeatureStoreClient,
    IngestionReport,
    IngestionStopped,
    default_client,
    ingest,
)
from workloads.features.limits import DEFAULT_LIMITS, InputLimits
from workloads.features.online import FeatureLookupError, OnlineFeatures
from workloads.features.sources import InputError, read_records

EXIT_OK, EXIT_ERROR, EXIT_REJECTED = 0, 1, 2

#: The stack file's config key for the region the stack deploys to.
REGION_KEY = "aws:region"


class UsageError(Exception):
    """Bad arguments or configuration; printed as ``error: ...`` with exit status 1."""


def make_client(region: str | None, max_workers: int) -> FeatureStoreClient:
    """The feature-store runtime client the commands use (tests replace this function).

    Raises:
        NoCredentialsError: when boto finds no credentials, before anything is sent (else every
            record would fail with it and the run would stop part-way).

    """
    import boto3

    if boto3.Session().get_credentials() is None:
        raise NoCredentialsError()
    return default_client(max_workers=max_workers, region=region)


def stack_region(stack_file: str) -> str | None:
    """The stack file's ``aws:region`` (``None`` when it sets none).

    Raises:
        UsageError: when the file sets one that is not a text value.

    """
    import yaml

    with open(stack_file, encoding="utf-8") as handle:
        document = yaml.safe_load(handle) or {}
    config = document.get("config") if isinstance(document, dict) else None
    region = config.get(REGION_KEY) if isinstance(config, dict) else None
    if region is not None and (not isinstance(region, str) or not region.strip()):
        raise UsageError(f"{stack_file}: {REGION_KEY} must be a region name, got {region!r}")
    return region.strip() if region else None


def region_of(args: argparse.Namespace) -> str | None:
    """The region to call: ``--region``, else the stack file's ``aws:region``, else ``None``.

    With ``None`` boto takes the environment's (AWS_DEFAULT_REGION, the profile's).
    """
    return args.region or stack_region(args.stack_file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status (see the module docstring)."""
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        return int(args.command(args))
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else EXIT_OK
    except (UsageError, DefinitionError, IngestionStopped, FeatureLookupError) as error:
        _print_error(error)
    except BotoCoreError as error:  # no region, no credentials: what to do, naming the command
        assert args is not None  # parsing makes no AWS call
        _print_error(f"{args.name} failed: {_aws_problem(error, args.stack_file)}")
    except (OSError, ValueError, KeyError) as error:
        # KeyError's str() is the repr of its message; show the message itself.
        _print_error(error.args[0] if isinstance(error, KeyError) and error.args else error)
    except Exception as error:  # a bug: still one line, never a traceback
        _print_error(f"unexpected {type(error).__name__}: {error}")
    return EXIT_ERROR


def _aws_problem(error: BotoCoreError, stack_file: str) -> str:
    """A boto error in one line, with where a region can come from for these commands."""
    advice = f"pass --region, or set {REGION_KEY} in {stack_file} or AWS_DEFAULT_REGION"
    return botocore_problem(error, region_advice=advice, profile_option=False)


def _print_error(message: object) -> None:
    one_line = " ".join(str(message).split())
    print(f"error: {one_line}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1 like every other error (2 means rejected records)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


_INGEST_EPILOG = """\
example:
  ml-platform-features ingest --stack-file Pulumi.dev.yaml --environment dev \\
      --group customers --input data.csv --reject-file rejects.jsonl --max-field-bytes 4096

Every input line is written, rejected (to --reject-file, with its line and reason) or skipped
(CSV header, blank line); the JSON report on stdout counts them (input_lines, input_bytes).

exit status:
  0  every record written
  2  some records rejected (see the reject file)
  1  usage or configuration error; input that cannot be read at all (unknown file type,
     repeated or unreadable CSV header, not a Parquet file: nothing written); or a run that
     stopped (missing group, access denied, input unreadable part-way): report on stdout,
     one-line error on stderr
"""


_LOOKUP_EPILOG = """\
example:
  ml-platform-features lookup --stack-file Pulumi.dev.yaml --environment dev \\
      --group customers --id c-1 --id c-2 --feature tenure_months
"""


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
    common.add_argument(
        "--region",
        help=f"AWS region (default: the stack file's {REGION_KEY}, else the environment's: "
        "AWS_DEFAULT_REGION, the profile's)",
    )
    commands = parser.add_subparsers(
        title="commands", required=True, metavar="COMMAND", parser_class=_Parser
    )

    ingest_ = commands.add_parser(
        "ingest",
        parents=[common],
        help="write a CSV, JSON Lines or Parquet file to the group",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_INGEST_EPILOG,
    )
    ingest_.add_argument("--input", required=True, help=".csv, .jsonl or .parquet file")
    ingest_.add_argument(
        "--reject-file", required=True, help="JSON Lines file for records not written"
    )
    ingest_.add_argument("--max-workers", type=_positive_int, default=8, help="threads (8)")
    bounds = ingest_.add_argument_group(
        "bounds on one input record (past one, the record is rejected with kind over_limit)"
    )
    for bound, help_text in _BOUND_HELP.items():
        bounds.add_argument(
            "--" + bound.replace("_", "-"),
            dest=bound,
            type=_positive_int,
            default=getattr(DEFAULT_LIMITS, bound),
            metavar="N",
            help=f"{help_text} ({getattr(DEFAULT_LIMITS, bound)})",
        )
    ingest_.set_defaults(command=_ingest, name="ingest")

    lookup = commands.add_parser(
        "lookup",
        parents=[common],
        help="print the online values of records as JSON",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_LOOKUP_EPILOG,
    )
    lookup.add_argument(
        "--id", dest="ids", action="append", required=True, help="record identifier, repeatable"
    )
    lookup.add_argument(
        "--feature", dest="features", action="append", help="feature to return, repeatable"
    )
    lookup.set_defaults(command=_lookup, name="lookup")
    return parser


_BOUND_HELP = {
    "max_line_bytes": "longest input line in bytes, its line ending not counted",
    "max_record_bytes": "largest record in bytes (CSV lines of one record, a JSON line, a "
    "Parquet row's text)",
    "max_record_lines": "most lines one CSV record may span (quoted line breaks)",
    "max_field_bytes": "largest value in UTF-8 bytes (SageMaker's ValueAsString maximum)",
    "max_json_depth": "deepest nesting of JSON arrays/objects in a line",
    "max_number_digits": "most digits in a number or numeric text",
}


def _ingest(args: argparse.Namespace) -> int:
    definition = _definition(args.stack_file, args.group)
    group_name = definition.group_name(args.environment)
    limits = InputLimits(**{bound: getattr(args, bound) for bound in _BOUND_HELP})
    try:
        # Reads the CSV header or Parquet schema now: a bad one stops before any AWS call.
        records = read_records(args.input, limits)
    except InputError as error:
        _print_report(IngestionReport(group_name=group_name, stopped=str(error)))
        raise
    with records:
        try:
            client = make_client(region_of(args), args.max_workers)
        except BotoCoreError as error:
            stopped = _aws_problem(error, args.stack_file)
            _print_report(IngestionReport(group_name=group_name, stopped=stopped))
            raise
        try:
            report = ingest(
                records,
                definition,
                group_name=group_name,
                client=client,
                max_workers=args.max_workers,
                reject_file=args.reject_file,
                max_number_digits=limits.max_number_digits,
            )
        except IngestionStopped as stopped:
            _print_report(stopped.report)
            raise
    _print_report(report)
    if report.rejected_total:
        print(
            f"{report.rejected_total} of {report.read} records rejected; see {args.reject_file}",
            file=sys.stderr,
        )
        return EXIT_REJECTED
    return EXIT_OK


def _print_report(report: IngestionReport) -> None:
    print(json.dumps(report.to_dict(), indent=2))


def _lookup(args: argparse.Namespace) -> int:
    definition = _definition(args.stack_file, args.group)
    online = OnlineFeatures(
        definition,
        definition.group_name(args.environment),
        make_client(region_of(args), max_workers=1),
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
