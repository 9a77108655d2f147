"""``ml-platform-monitor`` (also ``python -m workloads.monitoring``): the drift monitor's commands.

* ``baseline``: profile a training table into a baseline folder (``--model DIR``: with that
  model's predictions, made as the endpoint makes them);
* ``select-window``: stage a window's capture files from S3 (the pipeline's first step);
* ``check``: compare a window with the baseline and write the results (run with no network);
* ``publish``: send a check's metrics.json to CloudWatch;
* ``report``: render report.html again from a summary.json.

``check`` reads the window line by line within the bounds of
:class:`~workloads.monitoring.limits.Limits` (``--max-line-bytes`` ...): a capture line past a
bound, or unreadable, is counted as malformed and the check still writes its results.

Exit status: 0 when the command did its work (a check that finds drift still succeeds: drift is
reported through metrics and alarms; ``--fail-on-drift`` makes it exit 3 for use in CI), 1 on an
error, which is printed as one line naming what is wrong (for the AWS commands, ``select-window``
and ``publish``, also a missing region, credentials or network, and what to do about it).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workloads.monitoring import contract
from workloads.monitoring.baseline_files import BaselineError
from workloads.monitoring.check import Thresholds
from workloads.monitoring.cloudwatch import PublishError, aws_problem_of
from workloads.monitoring.limits import HELP, Limits

#: Exit status of a check that found drift or violations under ``--fail-on-drift``.
EXIT_DRIFT = 3


class CommandError(Exception):
    """A command that cannot run as asked; its message is printed as is."""


def read_table(path: Path) -> dict[str, object]:
    """A training table's columns by name, in file order (CSV with a header, JSON Lines, Parquet).

    pandas reads CSV and Parquet when installed (numbers arrive as numbers); JSON Lines, and CSV
    without pandas, are read with the standard library and types are inferred per column.

    Raises:
        CommandError: naming the file (and the line, when the standard library reads it) and
            what cannot be read; never a parser's own exception.

    """
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        import pandas  # optional, and slow to import
    except ImportError:
        pandas = None
    if suffix not in (".parquet", ".csv", ".jsonl", ".json"):
        raise CommandError(f"{path}: expected a .csv, .jsonl or .parquet file")
    if suffix == ".parquet" and pandas is None:
        raise CommandError(f"{path}: reading Parquet needs pandas and pyarrow")
    if suffix in (".jsonl", ".json"):
        # Always line by line: pandas' JSON Lines reader raises TypeError on a line that is not
        # an object and only warns (an error under strict warnings) on lists of unequal length,
        # where ours names the line.
        return _read_json_lines(path)
    if pandas is None:
        return _read_csv(path)
    try:
        frame = pandas.read_parquet(path) if suffix == ".parquet" else pandas.read_csv(path)
    except (ValueError, RecursionError, OverflowError, csv.Error) as error:
        # pandas' parsers (C CSV, ujson, pyarrow) raise ValueError subclasses or these; the
        # first line of their message says what is wrong.
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CommandError(f"{path}: cannot be read as a table: {first[:300]}") from None
    columns: dict[str, object] = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype.kind in "fiub":
            columns[str(name)] = series.to_numpy(dtype="float64", na_value=float("nan"))
        else:
            columns[str(name)] = series.astype(object).where(series.notna(), None).tolist()
    return columns


def _read_csv(path: Path) -> dict[str, object]:
    """A CSV file with a header, by the standard library."""
    reader = None
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            records = list(reader)
            # Inside the with: for an empty file DictReader reads its header on each access.
            names = list(reader.fieldnames or [])
    except (csv.Error, UnicodeDecodeError) as error:
        line = reader.line_num if reader is not None else 0
        raise CommandError(f"{path}: line {line}: {error}") from None
    return {name: [record.get(name) for record in records] for name in names}


def _read_json_lines(path: Path) -> dict[str, object]:
    """A JSON Lines file of one object per line, by the standard library."""
    from workloads.monitoring.capture import PayloadError, load_json

    records: list[dict[str, object]] = []
    try:
        lines = path.read_text("utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise CommandError(f"{path}: not UTF-8 text (byte {error.start + 1})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = load_json(line)
        except (json.JSONDecodeError, PayloadError) as error:
            reason = f"not JSON: {error.msg}" if isinstance(error, json.JSONDecodeError) else error
            raise CommandError(f"{path}: line {number}: {reason}") from None
        if not isinstance(record, dict):
            raise CommandError(f"{path}: line {number}: not a JSON object")
        records.append(record)
    names = list(dict.fromkeys(key for record in records for key in record))
    return {name: [record.get(name) for record in records] for name in names}


def _names(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def run_baseline(args: argparse.Namespace) -> int:
    """Profile ``--data`` into the baseline folder ``--out`` (with ``--model``'s predictions)."""
    from workloads.monitoring.baseline import build_baseline, model_columns, write_baseline

    prediction, exclude = args.prediction_column, _names(args.exclude)
    if args.model and (prediction or exclude):
        option = "--prediction-column" if prediction else "--exclude"
        raise CommandError(
            f"{option} does not go with --model: the model predicts the baseline's predictions "
            "and its features are the baseline's columns"
        )
    columns = read_table(Path(args.data))
    if args.model:
        columns = model_columns(columns, Path(args.model))  # type: ignore[arg-type]
        prediction = contract.PREDICTION_FEATURE
    baseline = build_baseline(
        columns,  # type: ignore[arg-type]
        categorical=_names(args.categorical),
        prediction=prediction,
        exclude=exclude,
        max_sample=args.max_sample,
    )
    written = write_baseline(baseline, Path(args.out))
    kinds = ", ".join(f"{f.name} ({f.inferred_type})" for f in baseline.features)
    print(f"baseline of {baseline.features[0].rows} rows: {kinds}")
    if baseline.prediction is not None:
        print(f"predictions: {baseline.prediction.inferred_type}")
    for path in written:
        print(f"wrote {path}")
    return 0


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    from workloads.monitoring.capture import parse_time

    try:
        return parse_time(value)
    except ValueError as error:
        raise CommandError(f"{option}: {error}") from None


def run_check(args: argparse.Namespace) -> int:
    """Check a window against the baseline and write the results to ``--out``."""
    from workloads.monitoring.baseline import load_baseline
    from workloads.monitoring.capture import capture_files
    from workloads.monitoring.check import check_window
    from workloads.monitoring.results import write_results

    baseline = load_baseline(Path(args.baseline))
    start, end = _time(args.start, "--start"), _time(args.end, "--end")
    endpoint = args.endpoint
    if args.window is not None:
        folder = Path(args.window)
        window_file = folder / contract.WINDOW_FILE
        if not window_file.is_file():
            raise CommandError(f"{window_file}: no such file (stage it with select-window)")
        window = _window_document(window_file)
        start = start or _time(window["start"], f"{window_file} start")
        end = end or _time(window["end"], f"{window_file} end")
        endpoint = endpoint or window.get("endpoint")
    elif args.capture is not None:
        folder = Path(args.capture)
        if not folder.is_dir():
            raise CommandError(f"--capture {folder}: no such folder")
    else:
        raise CommandError("give --window (a staged window) or --capture (a capture folder)")
    if not endpoint or not isinstance(endpoint, str):
        raise CommandError("--endpoint is required (the window does not name one)")
    if start is not None and end is not None and end <= start:
        raise CommandError(
            f"the window ends ({end.isoformat()}) before it starts ({start.isoformat()}): "
            "nothing to check"
        )
    limits = Limits(
        **{
            f.name: getattr(args, f.name)
            for f in fields(Limits)
            if getattr(args, f.name) is not None
        }
    )
    thresholds = Thresholds(
        **{
            f.name: getattr(args, f.name)
            for f in fields(Thresholds)
            if getattr(args, f.name) is not None
        }
    )
    result = check_window(
        baseline,
        capture_files(folder),
        endpoint=endpoint,
        start=start,
        end=end,
        root=folder,
        thresholds=thresholds,
        limits=limits,
    )
    written = write_results(result, Path(args.out), timestamp=end or datetime.now(timezone.utc))
    print(f"{endpoint}: {result.status}: {result.message}")
    for path in written:
        print(f"wrote {path}")
    if args.fail_on_drift and result.status in ("drift", "violations"):
        return EXIT_DRIFT
    return 0


def _window_document(path: Path) -> dict[str, object]:
    """window.json as written by select-window, or a one-line error naming what is wrong."""
    from workloads.monitoring.capture import PayloadError, load_json

    try:
        document = load_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, PayloadError) as error:
        raise CommandError(f"{path}: not a window description ({error})") from None
    if not isinstance(document, dict):
        raise CommandError(f"{path}: not a window description (not a JSON object)")
    missing = [key for key in ("start", "end") if key not in document]
    if missing:
        raise CommandError(f"{path}: not a window description (no {', '.join(map(repr, missing))})")
    return document


def run_select(args: argparse.Namespace) -> int:
    """Stage the window's capture files from S3 into ``--out``."""
    from workloads.monitoring import capture_window

    try:
        end = capture_window.parse_window_end(args.end)
    except ValueError as error:
        raise CommandError(f"--end: {error}") from None
    selection = capture_window.select_window(
        capture_window.default_client(args.region, args.profile),
        args.capture_uri,
        args.window_hours,
        end,
        Path(args.out),
    )
    print(selection)
    return 0


def run_publish(args: argparse.Namespace) -> int:
    """Send a check's metrics.json to CloudWatch."""
    from workloads.monitoring import cloudwatch

    path = Path(args.results)
    if path.is_dir():
        path = path / contract.METRICS_FILE
    document = cloudwatch.load_metrics(path)
    report = cloudwatch.publish_metrics(
        document, cloudwatch.default_client(args.region, args.profile)
    )
    print(report)
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Render report.html from a results folder's summary.json."""
    from workloads.monitoring.report import write_report

    folder = Path(args.results)
    summary_file = folder / contract.SUMMARY_FILE
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CommandError(f"{summary_file}: {error}") from None
    print(f"wrote {write_report(summary, folder / contract.REPORT_FILE)}")
    return 0


def _aws_options(command: argparse.ArgumentParser) -> None:
    """``--region`` and ``--profile`` for a command that calls AWS."""
    command.add_argument("--region", help="AWS region (default: AWS_DEFAULT_REGION, the profile's)")
    command.add_argument("--profile", help="AWS profile (default: AWS_PROFILE, the environment's)")


#: One or two example command lines per command, shown under its --help.
EXAMPLES = {
    "baseline": "ml-platform monitor baseline --data workloads/samples/data/churn-train.csv "
    "--model build/models/churn \\\n      --exclude churned --out build/baselines/churn",
    "check": "ml-platform monitor check --baseline build/baselines/churn "
    "--capture build/capture/churn \\\n      --out build/monitor/churn --fail-on-drift",
    "select": "ml-platform monitor select-window --capture-uri s3://mlp-dev-capture/mlp-dev-churn/ "
    "\\\n      --window-hours 24 --out build/window",
    "publish": "ml-platform monitor publish --results build/monitor/churn --region us-east-1",
    "report": "ml-platform monitor report --results build/monitor/churn",
}


def _examples(command: str) -> dict[str, Any]:
    """``add_parser`` keywords that show ``command``'s example under its help."""
    return {
        "epilog": f"example:\n  {EXAMPLES[command]}\n",
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def parser() -> argparse.ArgumentParser:
    """The command line."""
    root = argparse.ArgumentParser(prog="ml-platform-monitor", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)

    baseline = commands.add_parser(
        contract.BASELINE_COMMAND, help="profile a training table", **_examples("baseline")
    )
    baseline.add_argument("--data", required=True, help=".csv (header), .jsonl or .parquet")
    baseline.add_argument("--out", required=True, help="the baseline folder to write")
    baseline.add_argument("--prediction-column", help="the model's predictions on these rows")
    baseline.add_argument(
        "--model",
        help="a model directory: its features are the columns, and it predicts the "
        "predictions as the endpoint answers (its default_output)",
    )
    baseline.add_argument("--categorical", help="numeric columns to compare as categories (a,b)")
    baseline.add_argument("--exclude", help="columns the endpoint does not receive (a,b)")
    baseline.add_argument("--max-sample", type=int, default=1_000_000)
    baseline.set_defaults(run=run_baseline)

    check = commands.add_parser(
        contract.CHECK_COMMAND, help="check a window for drift", **_examples("check")
    )
    check.add_argument("--baseline", required=True, help="the baseline folder")
    check.add_argument("--window", help="a folder staged by select-window")
    check.add_argument("--capture", help="a folder of capture files (.jsonl, any depth)")
    check.add_argument("--start", help="window start, ISO-8601 with offset (default: all)")
    check.add_argument("--end", help="window end, exclusive")
    check.add_argument("--endpoint", help="the endpoint's name (metrics dimension)")
    check.add_argument("--out", required=True, help="the results folder to write")
    check.add_argument("--fail-on-drift", action="store_true", help="exit 3 on drift/violations")
    for field in fields(Thresholds):
        check.add_argument(f"--{field.name.replace('_', '-')}", type=float, dest=field.name)
    for field in fields(Limits):
        check.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=int,
            dest=field.name,
            help=f"{HELP[field.name]} (default {field.default:,})",
        )
    check.set_defaults(run=run_check)

    select = commands.add_parser(
        contract.SELECT_COMMAND, help="stage a window's capture files", **_examples("select")
    )
    select.add_argument("--capture-uri", required=True, help="s3://<capture>/<endpoint>/")
    select.add_argument("--window-hours", type=int, required=True)
    select.add_argument("--end", default="now", help="ISO-8601 with offset, or now")
    select.add_argument("--out", required=True)
    _aws_options(select)
    select.set_defaults(run=run_select)

    publish = commands.add_parser(
        contract.PUBLISH_COMMAND, help="send metrics to CloudWatch", **_examples("publish")
    )
    publish.add_argument("--results", required=True, help="a results folder or metrics.json")
    _aws_options(publish)
    publish.set_defaults(run=run_publish)

    report = commands.add_parser(
        contract.REPORT_COMMAND, help="render report.html again", **_examples("report")
    )
    report.add_argument("--results", required=True, help="a results folder with summary.json")
    report.set_defaults(run=run_report)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print errors as one line and return the exit status."""
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (CommandError, BaselineError, PublishError, ValueError, OSError) as error:
        return _fail(args.command, str(error))
    except Exception as error:
        # An AWS call (select-window, publish) without region, credentials or network, or
        # refused: one line naming the command and what to do.
        problem = aws_problem_of(error)
        if problem is None:
            raise
        return _fail(args.command, problem)


def _fail(command: str, message: str) -> int:
    """Print ``message`` as the command's one-line error; the exit status of an error."""
    print(f"ml-platform-monitor {command}: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
