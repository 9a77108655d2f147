"""Point-in-time join benchmark: our `point_in_time_join` against the naive pandas join.

Run from the repository root with the project's virtualenv:

    .venv/bin/python benchmarks/features_point_in_time.py            # 1M records x 100k entities
    .venv/bin/python benchmarks/features_point_in_time.py --quick    # 100k records x 10k entities
    .venv/bin/python benchmarks/features_point_in_time.py --respect-write-time --max-age-days 30

What is compared, and how it is made fair:
- the same seeded data: records of one group (Integral id, Fractional event time in whole
  milliseconds, a Fractional, an Integral and a String feature, write and api-invocation times
  after the event, 1% deletes, 5% extra records repeating an earlier (id, event time) with a
  later write, which exercises the tie rule) over `--ids` ids, and entity rows with random ids
  (some without history) and times (some before any record);
- naive: what a user writes first: merge the entities with the records on the key, keep event
  time <= entity time (and the window, and write time, when asked), sort by entity row and the
  three times, keep each entity row's last, null the deleted, merge back onto every entity row;
- each side runs in its own fresh Python process that generates the data itself, so neither
  inherits the other's heap; time is the best of `--repeats` runs; memory is the peak of Python
  heap allocations during one more run, measured with `tracemalloc` (numpy and pandas report
  their buffers to it), i.e. the extra memory the join needs on top of its inputs, output
  included; that run is separate because tracing slows allocation. The process's max RSS (data
  included) is shown too;
- the parent checks the two outputs are equal value for value (nulls alike) and exits 1 when they
  differ or when ours is not >= 5x faster with less peak memory.

Results go to build/bench/features_point_in_time.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_support import write_results

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from workloads.features.definitions import Feature, FeatureGroupDefinition  # noqa: E402
from workloads.features.point_in_time import point_in_time_join  # noqa: E402

DEFAULT_OUT = REPO / "build" / "bench" / "features_point_in_time.json"
TARGET_SPEEDUP = 5.0
FEATURES = ["spend", "visits", "tier"]
DEFINITION = FeatureGroupDefinition(
    name="customers",
    record_identifier="customer_id",
    event_time="event_time",
    features=(
        Feature("customer_id", "Integral"),
        Feature("event_time", "Fractional"),
        Feature("spend", "Fractional"),
        Feature("visits", "Integral"),
        Feature("tier", "String"),
    ),
)
START = pd.Timestamp("2025-01-01T00:00:00Z")
SPAN_MS = 365 * 86_400_000


def synthetic_data(records: int, ids: int, entity_rows: int, seed: int):
    """Seeded records and entity rows (see the module docstring)."""
    generator = np.random.default_rng(seed)
    repeats = records // 20
    fresh = records - repeats
    customer = generator.integers(0, ids, fresh)
    event_ms = generator.integers(0, SPAN_MS, fresh)
    # Repeats: an earlier record's (id, event time), written again later (a correction).
    source = generator.integers(0, fresh, repeats)
    customer = np.concatenate([customer, customer[source]])
    event_ms = np.concatenate([event_ms, event_ms[source]])
    delay_us = generator.integers(1_000_000, 2 * 86_400_000_000, records)  # 1 s to 2 days
    delay_us[fresh:] += 3 * 86_400_000_000  # corrections arrive after the original
    write = START + pd.to_timedelta(event_ms * 1000 + delay_us, unit="us")
    history = pd.DataFrame(
        {
            "customer_id": customer,
            "event_time": (START.value // 1_000_000 + event_ms) / 1000.0,
            "spend": generator.normal(100, 30, records).round(2),
            "visits": generator.integers(0, 1000, records),
            "tier": pd.Series(generator.choice(["bronze", "silver", "gold"], records), dtype=str),
            "write_time": write.tz_localize(None),
            "api_invocation_time": (write - pd.Timedelta(milliseconds=5)).tz_localize(None),
            "is_deleted": generator.random(records) < 0.01,
        }
    ).sample(frac=1.0, random_state=seed, ignore_index=True)  # the store has no order
    entities = pd.DataFrame(
        {
            "customer_id": generator.integers(0, int(ids * 1.05), entity_rows),  # 5% unknown
            "as_of": (
                START
                + pd.to_timedelta(generator.integers(-SPAN_MS // 20, SPAN_MS, entity_rows), "ms")
            ).tz_localize(None),
            "label": generator.integers(0, 2, entity_rows),
        }
    )
    return history, entities


def ours(
    history: pd.DataFrame,
    entities: pd.DataFrame,
    max_age: datetime.timedelta | None,
    respect_write_time: bool,
) -> pd.DataFrame:
    return point_in_time_join(
        entities,
        history,
        DEFINITION,
        entity_time="as_of",
        features=FEATURES,
        max_age=max_age,
        respect_write_time=respect_write_time,
    )


def naive(
    history: pd.DataFrame,
    entities: pd.DataFrame,
    max_age: datetime.timedelta | None,
    respect_write_time: bool,
) -> pd.DataFrame:
    """The join as a user first writes it: merge on the key, filter, sort, keep the last."""
    left = entities.reset_index(drop=True).rename_axis("row").reset_index()
    right = history.assign(
        # Athena keeps event times to the millisecond; so does our join.
        event_time=pd.to_datetime((history["event_time"] * 1000).round().astype("int64"), unit="ms")
    )
    merged = left.merge(right, on="customer_id", how="inner")
    keep = merged["event_time"] <= merged["as_of"]
    if max_age is not None:
        keep &= merged["event_time"] >= merged["as_of"] - max_age
    if respect_write_time:
        keep &= merged["write_time"] <= merged["as_of"]
    merged = merged[keep]
    merged = merged.sort_values(["row", "event_time", "write_time", "api_invocation_time"])
    latest = merged.groupby("row").tail(1).set_index("row")
    latest.loc[latest["is_deleted"], FEATURES] = None
    return left.join(latest[FEATURES], on="row").drop(columns="row")


def child(args: argparse.Namespace) -> int:
    """Generate the data, time one side, measure its peak heap, write its output."""
    history, entities = synthetic_data(args.records, args.ids, args.entities, args.seed)
    join: Callable[..., pd.DataFrame] = {"ours": ours, "naive": naive}[args.child]
    max_age = None if args.max_age_days is None else datetime.timedelta(days=args.max_age_days)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = join(history, entities, max_age, args.respect_write_time)
        times.append(time.perf_counter() - start)
        del result
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    result = join(history, entities, max_age, args.respect_write_time)
    peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    result.to_pickle(args.result)
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": min(times), "all_seconds": times, "peak_bytes": peak,
                      "max_rss_bytes": max_rss_kib * 1024}))  # fmt: skip
    return 0


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Values only: numbers as float64, text as object, every null as None."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            out[name] = column.astype("float64").to_numpy()
        else:
            out[name] = np.array([None if pd.isna(v) else v for v in column], dtype=object)
    return pd.DataFrame(out)


def run_side(side: str, args: argparse.Namespace, result: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", side, "--result", str(result), *args.passed]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--ids", type=int, default=50_000)
    parser.add_argument("--entities", type=int, default=100_000, help="entity rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-age-days", type=float, default=None)
    parser.add_argument("--respect-write-time", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side")
    parser.add_argument("--quick", action="store_true", help="100k records x 10k entity rows")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--child", choices=["ours", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.ids, args.entities = 100_000, 5_000, 10_000
    args.passed = [
        f"--records={args.records}",
        f"--ids={args.ids}",
        f"--entities={args.entities}",
        f"--seed={args.seed}",
        f"--repeats={args.repeats}",
        *([f"--max-age-days={args.max_age_days}"] if args.max_age_days is not None else []),
        *(["--respect-write-time"] if args.respect_write_time else []),
    ]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args)
    with tempfile.TemporaryDirectory() as directory:
        figures = {side: run_side(side, args, Path(directory) / side) for side in ("ours", "naive")}
        our_result = pd.read_pickle(Path(directory) / "ours")
        naive_result = pd.read_pickle(Path(directory) / "naive")
    try:
        pd.testing.assert_frame_equal(canonical(our_result), canonical(naive_result))
        equal, difference = True, ""
    except AssertionError as error:
        equal, difference = False, str(error)
    matched = int(our_result["spend"].notna().sum())
    time_ratio = figures["ours"]["seconds"] / figures["naive"]["seconds"]
    memory_ratio = figures["ours"]["peak_bytes"] / figures["naive"]["peak_bytes"]
    rss_ratio = figures["ours"]["max_rss_bytes"] / figures["naive"]["max_rss_bytes"]
    mib = 1024 * 1024
    print(
        f"point-in-time join: {args.records:,} records ({args.ids:,} ids) x "
        f"{args.entities:,} entity rows, seed {args.seed}, max_age_days={args.max_age_days}, "
        f"respect_write_time={args.respect_write_time}; {matched:,} rows matched"
    )
    print(f"{'':14}{'time (s, best)':>16}{'peak heap (MiB)':>18}{'max RSS (MiB)':>16}")
    for side, name in (("ours", "ours"), ("naive", "naive pandas")):
        f = figures[side]
        print(
            f"{name:14}{f['seconds']:>16.3f}{f['peak_bytes'] / mib:>18.1f}"
            f"{f['max_rss_bytes'] / mib:>16.1f}"
        )
    print(f"{'ours / naive':14}{time_ratio:>15.3f}x{memory_ratio:>17.3f}x{rss_ratio:>15.3f}x")
    print(f"speedup: {1 / time_ratio:.1f}x; results equal: {'yes' if equal else 'NO'}")
    passed = equal and 1 / time_ratio >= TARGET_SPEEDUP and memory_ratio < 1
    if not equal:
        print(difference, file=sys.stderr)
    elif not passed:
        print(f"FAIL: target is >= {TARGET_SPEEDUP}x faster and less peak memory", file=sys.stderr)
    results = {
        "machine": {
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(),
        },
        "config": {k: v for k, v in vars(args).items() if k not in ("out", "passed", "result")},
        "figures": figures,
        "time_ratio": time_ratio,
        "peak_memory_ratio": memory_ratio,
        "max_rss_ratio": rss_ratio,
        "equal": equal,
        "passed": passed,
    }
    write_results(args.out, results)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
