"""``ml-platform features ...``: feature-store ingestion, online lookup, and training sets.

``ingest`` and ``lookup`` pass their arguments (``--help`` included) to the feature commands'
own command line (``workloads.features.cli``) and exit with its status: note that ``ingest``
exits 2 when some records were rejected, as ``ml-platform-features`` (still an alias) does.
``training-set`` joins files point in time (``workloads.features.file_training_set``).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import click

from ml_platform_cli.errors import FAILED, USAGE, CliError
from ml_platform_cli.output import emit
from ml_platform_cli.runners import PASS_THROUGH, run_entry_point
from ml_platform_cli.stack import json_option

#: The feature commands' entry point; it takes the subcommand and its arguments.
FEATURES_ENTRY_POINT = "workloads.features.cli:main"

#: ``--max-age`` units: seconds, minutes, hours, days.
AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@click.group("features")
def features() -> None:
    r"""Feature store: ingest records, look them up online, build point-in-time training sets.

    \b
    Examples:
      ml-platform features ingest --stack-file Pulumi.dev.yaml --environment dev \
          --group customers --input data.csv --reject-file rejects.jsonl
      ml-platform features lookup --stack-file Pulumi.dev.yaml --environment dev \
          --group customers --id c-1
      ml-platform features training-set --entities labels.csv \
          --features customers.parquet customer_id event_time --out train.parquet
    """


def _pass_through(name: str, summary: str) -> click.Command:
    """A ``features`` subcommand handing ``name`` and its arguments to the feature commands."""

    @click.command(name, help=summary, context_settings=PASS_THROUGH, add_help_option=False)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        run_entry_point(FEATURES_ENTRY_POINT, (name, *args), program="ml-platform features")

    return command


features.add_command(
    _pass_through(
        "ingest",
        "Write a CSV, JSON Lines or Parquet file to a feature group (exit 2: some records "
        "rejected).",
    )
)
features.add_command(_pass_through("lookup", "Print the online values of records as JSON."))


def parse_max_age(text: str | None) -> datetime.timedelta | None:
    """``30d``, ``12h``, ``90m``, ``45s`` as a timedelta (None stays None); else exit 2."""
    if text is None:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if match is None:
        raise CliError(f"--max-age '{text}' is not a duration like 30d, 12h, 90m or 45s", USAGE)
    return datetime.timedelta(seconds=float(match[1]) * AGE_UNITS[match[2]])


@features.command("training-set")
@click.option(
    "--entities",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="entity rows (.csv or .parquet): a key column per feature file and a time column",
)
@click.option(
    "--entity-time",
    default="event_time",
    show_default=True,
    help="the entity rows' time column (ISO-8601, epoch seconds or timestamps)",
)
@click.option(
    "--features",
    "feature_files",
    type=(click.Path(path_type=Path, dir_okay=False), str, str),
    multiple=True,
    required=True,
    metavar="FILE KEY EVENT_TIME",
    help="a feature file (.csv or .parquet), its key column (the entity column of the same "
    "name) and its event-time column; repeatable",
)
@click.option(
    "--max-age", help="ignore records older than this at the entity's time: 30d, 12h, 90m, 45s"
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="the training set to write (.csv or .parquet)",
)
@json_option
def training_set(
    entities: Path,
    entity_time: str,
    feature_files: tuple[tuple[Path, str, str], ...],
    max_age: str | None,
    out: Path,
    as_json: bool,
) -> None:
    r"""Join entity rows with feature files point in time, and write the training set.

    Each entity row gets, from every feature file, the values of the latest record of its key
    at or before the row's time (never later ones: no leakage), or nulls when there is none
    (or only older than --max-age). Entity rows are kept as they are, in order. The output is
    written whole or not at all.

    \b
    Examples:
      ml-platform features training-set --entities labels.csv --entity-time label_time \
          --features customers.parquet customer_id event_time \
          --features usage.csv customer_id day --max-age 30d --out build/train.parquet
      ml-platform features training-set --entities labels.parquet \
          --features customers.csv customer_id event_time --out train.csv --json
    """
    from workloads.features.file_training_set import (
        FeatureFile,
        TrainingSetError,
        training_set_from_files,
    )

    window = parse_max_age(max_age)
    files = [FeatureFile(path, key, time) for path, key, time in feature_files]
    try:
        result = training_set_from_files(
            entities, files, out, entity_time=entity_time, max_age=window
        )
    except TrainingSetError as error:
        raise CliError(" ".join(str(error).split()), FAILED) from error
    except OSError as error:
        raise CliError(f"cannot write '{out}': {error}", FAILED) from error
    data: dict[str, Any] = {
        "output": str(result.output),
        "rows": result.rows,
        "columns": result.columns,
        "matched": result.matched,
    }

    def render(console: Any) -> None:
        console.print(f"wrote {result.rows} rows to {result.output}", markup=False)
        for path, count in result.matched.items():
            console.print(f"  {path}: {count} of {result.rows} rows matched", markup=False)

    emit(data, as_json, render)


def register(cli: click.Group) -> None:
    """Add the ``features`` group to ``cli``."""
    cli.add_command(features)
