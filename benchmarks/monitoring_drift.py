"""Drift check benchmark: our check against evidently's data drift preset and a scipy KS loop.

Run from the repository root with the project's virtualenv:

    .venv/bin/python benchmarks/monitoring_drift.py                   # 100k rows x 50 columns
    .venv/bin/python benchmarks/monitoring_drift.py --skip-evidently  # ours and scipy only

What is compared, and how it is made fair:
- the same seeded data, generated once by the parent and handed to every side as .npy files: a
  reference and a current table of `--rows` x `--columns` float64 columns (normal, log-normal,
  uniform, Poisson counts (ties), exponential, in turn), 10 columns in 50 drifted in the current
  (a mean shift or a scale change), `--missing` (2%) of each column NaN at random rows;
- ours, end to end: prepare the baseline from the raw reference (`build_baseline`, columns
  profiled in parallel) and check the current against it (`compare_columns`: KS statistic and
  p-value, PSI on the baseline's deciles, missing rate), since the rivals receive raw data too;
  also the check alone against the prepared baseline (what a scheduled check pays);
- scipy: for each column, drop the NaNs of both and call `scipy.stats.ks_2samp` (default method);
  the KS statistics must equal ours within 1e-9; the p-values differ by design (ours is the
  asymptotic distribution with Stephens' correction) and their largest gap is shown;
- evidently: its `DataDriftPreset`, once with `method="ks"` and once with `method="psi"` (one
  method per preset), in its own virtualenv `build/bench/evidently-venv` (evidently needs
  pandas<3; created on first run), on DataFrames built from the same .npy files; evidently
  reports KS as a p-value only, so that is what is compared with scipy's;
- every side runs in its own fresh process; imports, data loading and DataFrame building are not
  timed, and a small untimed warm-up run (the first 1,000 rows) triggers lazy imports first; time
  is the median of `--repeats` runs;
- the window check: a 1,000,000-row baseline of `--columns` columns prepared beforehand (not
  timed), then `compare_columns` on a fresh 10,000-row window: median of 7 runs after a warm-up.

Floors (exit 1 when one is missed, naming it): ours end to end <= 0.1x evidently (KS + PSI runs)
and <= 0.5x the scipy loop, KS statistics within 1e-9 of scipy's, the window check <= 100 ms.
Results go to build/bench/monitoring_drift.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench_support import pip_install, write_results

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "build" / "bench"
DEFAULT_OUT = BENCH_DIR / "monitoring_drift.json"
EVIDENTLY_VENV = BENCH_DIR / "evidently-venv"
EVIDENTLY_SPECS = ("evidently==0.7.23", "pandas<3")

TARGET_VS_EVIDENTLY = 0.1
TARGET_VS_SCIPY = 0.5
KS_TOLERANCE = 1e-9
WINDOW_BUDGET_SECONDS = 0.100
WINDOW_BASELINE_ROWS = 1_000_000
WINDOW_ROWS = 10_000
WINDOW_RUNS = 7
WARM_UP_ROWS = 1_000
PARTS = ("reference", "current", "window-baseline", "window")


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def is_drifted(column: int) -> bool:
    """Whether a column drifts in the current data: 10 in 50, every distribution twice."""
    return column % 5 == (column // 5) % 5


def column_values(part: str, column: int, rows: int, seed: int, missing: float) -> np.ndarray:
    """One seeded float64 column of ``part`` (reference-like or drifted), with NaNs."""
    generator = np.random.default_rng([seed, PARTS.index(part), column])
    drift = part in ("current", "window") and is_drifted(column)
    shift = 0.2 if drift and column % 2 == 0 else 0.0
    scale = 1.25 if drift and column % 2 == 1 else 1.0
    kind = column % 5
    if kind == 3:  # counts: many ties
        values = generator.poisson(4.0 * (1 + shift) * scale, rows).astype(np.float64)
    else:
        draw: dict[int, Callable[[], np.ndarray]] = {
            0: lambda: generator.normal(0.0, 1.0, rows),
            1: lambda: generator.lognormal(0.0, 0.5, rows),
            2: lambda: generator.uniform(-1.0, 1.0, rows),
            4: lambda: generator.exponential(1.0, rows),
        }
        values = draw[kind]() * scale + shift
    values[generator.choice(rows, round(rows * missing), replace=False)] = np.nan
    return values


def table(part: str, rows: int, columns: int, seed: int, missing: float) -> np.ndarray:
    """``columns`` x ``rows``: each column contiguous."""
    return np.stack([column_values(part, c, rows, seed, missing) for c in range(columns)])


def column_names(columns: int) -> list[str]:
    return [f"x{index:02d}" for index in range(columns)]


# --------------------------------------------------------------------------------------------
# the sides, each in its own process
# --------------------------------------------------------------------------------------------


def timed(run: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Seconds of each of ``repeats`` calls, and the last call's result."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def child_ours(reference: np.ndarray, current: np.ndarray, repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from workloads.monitoring.baseline import Baseline, build_baseline
    from workloads.monitoring.check import compare_columns

    names = column_names(reference.shape[0])

    def prepare(rows: slice) -> Baseline:
        # What `ml-platform-monitor baseline` does with a numeric table: every column profiled.
        return build_baseline({n: reference[i, rows] for i, n in enumerate(names)})

    def check(baseline: Baseline, rows: slice) -> list[Any]:
        window = {n: current[i, rows] for i, n in enumerate(names)}
        return compare_columns(baseline, window, rows=current[0, rows].shape[0])

    warm = slice(0, WARM_UP_ROWS)
    check(prepare(warm), warm)
    every = slice(None)
    end_to_end, _ = timed(lambda: check(prepare(every), every), repeats)
    baseline = prepare(every)
    check_only, results = timed(lambda: check(baseline, every), repeats)
    return {
        "end_to_end_seconds": end_to_end,
        "check_seconds": check_only,
        "ks_statistic": [r.ks_statistic for r in results],
        "ks_p_value": [r.ks_p_value for r in results],
        "psi": [r.psi for r in results],
        "missing_rate": [r.missing_rate for r in results],
        "drifted": [r.drifted for r in results],
    }


def child_scipy(reference: np.ndarray, current: np.ndarray, repeats: int) -> dict[str, Any]:
    from scipy.stats import ks_2samp

    def loop(rows: slice) -> list[Any]:
        out = []
        for ref, cur in zip(reference[:, rows], current[:, rows], strict=True):
            out.append(ks_2samp(ref[~np.isnan(ref)], cur[~np.isnan(cur)]))
        return out

    loop(slice(0, WARM_UP_ROWS))
    seconds, results = timed(lambda: loop(slice(None)), repeats)
    return {
        "seconds": seconds,
        "ks_statistic": [float(r.statistic) for r in results],
        "ks_p_value": [float(r.pvalue) for r in results],
    }


def child_evidently(reference: np.ndarray, current: np.ndarray, repeats: int) -> dict[str, Any]:
    """Evidently's preset with KS, then with PSI (runs in evidently's own virtualenv)."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    names = column_names(reference.shape[0])

    def dataset(values: np.ndarray) -> Any:
        # Column types declared up front, outside the timing: a head start for evidently.
        frame = pd.DataFrame(values.T, columns=names)
        return Dataset.from_pandas(frame, data_definition=DataDefinition(numerical_columns=names))

    def both(ref: Any, cur: Any) -> dict[str, dict[str, float]]:
        values: dict[str, dict[str, float]] = {}
        for method in ("ks", "psi"):
            snapshot = Report([DataDriftPreset(method=method)]).run(cur, ref)
            values[method] = {
                metric["config"]["column"]: float(metric["value"])
                for metric in snapshot.dict()["metrics"]
                if metric["config"]["type"] == "evidently:metric_v2:ValueDrift"
            }
        return values

    both(dataset(reference[:, :WARM_UP_ROWS]), dataset(current[:, :WARM_UP_ROWS]))
    ref, cur = dataset(reference), dataset(current)
    seconds, values = timed(lambda: both(ref, cur), repeats)
    return {
        "seconds": seconds,
        "ks_p_value": [values["ks"][name] for name in names],
        "psi": [values["psi"][name] for name in names],
    }


def child_window(columns: int, seed: int, missing: float) -> dict[str, Any]:
    """Prepare a 1M-row baseline (not timed), time the check of a fresh 10k-row window."""
    sys.path.insert(0, str(REPO))
    from scipy.stats import ks_2samp

    from workloads.monitoring.baseline import Baseline, numeric_baseline
    from workloads.monitoring.check import compare_columns

    names = column_names(columns)
    baseline = Baseline(
        features=tuple(
            numeric_baseline(
                name, column_values("window-baseline", i, WINDOW_BASELINE_ROWS, seed, missing)
            )
            for i, name in enumerate(names)
        )
    )
    window = {
        name: column_values("window", i, WINDOW_ROWS, seed, missing) for i, name in enumerate(names)
    }
    compare_columns(baseline, window, rows=WINDOW_ROWS)
    seconds, results = timed(
        lambda: compare_columns(baseline, window, rows=WINDOW_ROWS), WINDOW_RUNS
    )
    # The statistics on a 1M-row baseline must equal scipy's too (checked after the timing).
    differences = []
    for feature, result in zip(baseline.features, results, strict=True):
        values = window[feature.name]
        reference = ks_2samp(feature.values, values[~np.isnan(values)])
        differences.append(abs(result.ks_statistic - float(reference.statistic)))
    return {
        "seconds": seconds,
        "baseline_rows": WINDOW_BASELINE_ROWS,
        "window_rows": WINDOW_ROWS,
        "ks_max_difference": max(differences),
        "drifted": sum(result.drifted for result in results),
    }


def child(args: argparse.Namespace) -> int:
    if args.child == "window":
        figures = child_window(args.columns, args.seed, args.missing)
    else:
        reference = np.load(args.data / "reference.npy")
        current = np.load(args.data / "current.npy")
        side = {"ours": child_ours, "scipy": child_scipy, "evidently": child_evidently}
        figures = side[args.child](reference, current, args.repeats)
    print(json.dumps(figures))
    return 0


# --------------------------------------------------------------------------------------------
# the parent
# --------------------------------------------------------------------------------------------


def ensure_evidently_venv(venv: Path) -> Path:
    """Create or reuse the virtualenv with evidently (which needs pandas<3, unlike ours)."""
    python = venv / "bin" / "python"
    probe = "import evidently, pandas; print(evidently.__version__, pandas.__version__)"
    if python.exists():
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
        wanted = EVIDENTLY_SPECS[0].split("==")[1]
        if done.returncode == 0 and done.stdout.split()[0] == wanted:
            return python
        print(f"{venv} lacks {EVIDENTLY_SPECS[0]}: installing it", flush=True)
    else:
        print(f"creating {venv} (first run only, a few minutes)", flush=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip_install(python, venv, EVIDENTLY_SPECS)
    return python


def run_side(python: Path | str, side: str, args: argparse.Namespace, data: Path) -> dict:
    command = [
        str(python),
        __file__,
        f"--child={side}",
        f"--data={data}",
        f"--columns={args.columns}",
        f"--seed={args.seed}",
        f"--missing={args.missing}",
        f"--repeats={args.repeats}",
    ]
    print(f"  running {side} ...", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"the {side} side failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def max_difference(a: list[float], b: list[float]) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of each table")
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--missing", type=float, default=0.02, help="share of NaN per column")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (median)")
    parser.add_argument("--skip-evidently", action="store_true", help="ours and scipy only")
    parser.add_argument("--skip-window", action="store_true", help="no 10k-vs-1M check")
    parser.add_argument("--evidently-venv", type=Path, default=EVIDENTLY_VENV)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument(
        "--child", choices=["ours", "scipy", "evidently", "window"], help=argparse.SUPPRESS
    )
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args)
    evidently_python = None if args.skip_evidently else ensure_evidently_venv(args.evidently_venv)
    load_before = os.getloadavg()[0]
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory)
        for part in ("reference", "current"):
            values = table(part, args.rows, args.columns, args.seed, args.missing)
            np.save(data / f"{part}.npy", values)
        figures["ours"] = run_side(sys.executable, "ours", args, data)
        figures["scipy"] = run_side(sys.executable, "scipy", args, data)
        if evidently_python is not None:
            figures["evidently"] = run_side(evidently_python, "evidently", args, data)
        if not args.skip_window:
            figures["window"] = run_side(sys.executable, "window", args, data)

    ours, scipy = figures["ours"], figures["scipy"]
    median = statistics.median
    ours_seconds = median(ours["end_to_end_seconds"])
    check_seconds = median(ours["check_seconds"])
    scipy_seconds = median(scipy["seconds"])
    ks_difference = max_difference(ours["ks_statistic"], scipy["ks_statistic"])
    p_difference = max_difference(ours["ks_p_value"], scipy["ks_p_value"])
    vs_scipy = ours_seconds / scipy_seconds
    failures = []
    if ks_difference > KS_TOLERANCE:
        failures.append(f"KS statistics differ from scipy's by {ks_difference:.3g} > 1e-9")
    if vs_scipy > TARGET_VS_SCIPY:
        failures.append(f"ours / scipy loop = {vs_scipy:.3f} > {TARGET_VS_SCIPY}")

    print(
        f"drift check: {args.rows:,} rows x {args.columns} columns, {args.missing:.0%} missing, "
        f"{sum(map(is_drifted, range(args.columns)))} columns drifted, seed {args.seed}; "
        f"median of {args.repeats} runs, {os.cpu_count()} CPUs, load average before "
        f"{load_before:.2f} (other processes skew the times)"
    )
    print(f"{'':34}{'time (s)':>10}{'ours e2e / it':>15}{'check / it':>12}")
    rows = [("ours: prepare baseline + check", ours_seconds), ("ours: check only", check_seconds)]
    rows.append(("scipy ks_2samp loop (KS only)", scipy_seconds))
    vs_evidently = None
    if "evidently" in figures:
        evidently = figures["evidently"]
        evidently_seconds = median(evidently["seconds"])
        rows.append(("evidently preset (KS + PSI runs)", evidently_seconds))
        vs_evidently = ours_seconds / evidently_seconds
        if vs_evidently > TARGET_VS_EVIDENTLY:
            failures.append(f"ours / evidently = {vs_evidently:.3f} > {TARGET_VS_EVIDENTLY}")
    for name, seconds in rows:
        ratios = f"{ours_seconds / seconds:>14.3f}x{check_seconds / seconds:>11.3f}x"
        print(f"{name:34}{seconds:>10.3f}{ratios if not name.startswith('ours') else ''}")
    print(
        f"ours / scipy loop: {vs_scipy:.3f} (floor <= {TARGET_VS_SCIPY}); "
        f"check only / scipy loop: {check_seconds / scipy_seconds:.3f}"
    )
    if vs_evidently is not None:
        print(
            f"ours / evidently: {vs_evidently:.4f} (floor <= {TARGET_VS_EVIDENTLY}); "
            f"check only / evidently: {check_seconds / evidently_seconds:.4f}"
        )
    print(
        f"KS statistic, max |ours - scipy|: {ks_difference:.3g} (floor <= {KS_TOLERANCE:g}); "
        f"KS p-value, max |ours - scipy|: {p_difference:.3g} (asymptotic vs scipy's, expected)"
    )
    if "evidently" in figures:
        print(
            "evidently KS p-value, max |evidently - scipy|: "
            f"{max_difference(figures['evidently']['ks_p_value'], scipy['ks_p_value']):.3g}; "
            "PSI, max |ours - evidently|: "
            f"{max_difference(ours['psi'], figures['evidently']['psi']):.3g} (by design: evidently "
            "bins both samples' range into equal-width Sturges bins, ours the baseline's deciles)"
        )
    if "window" in figures:
        window = figures["window"]
        window_seconds = median(window["seconds"])
        print(
            f"window check: {window['window_rows']:,} rows against a prepared "
            f"{window['baseline_rows']:,}-row baseline, {args.columns} columns: "
            f"{window_seconds * 1000:.1f} ms (median of {WINDOW_RUNS}; floor <= "
            f"{WINDOW_BUDGET_SECONDS * 1000:.0f} ms); KS max |ours - scipy| "
            f"{window['ks_max_difference']:.3g}"
        )
        if window_seconds > WINDOW_BUDGET_SECONDS:
            failures.append(f"window check {window_seconds * 1000:.1f} ms > 100 ms")
        if window["ks_max_difference"] > KS_TOLERANCE:
            failures.append(
                f"window KS differs from scipy's by {window['ks_max_difference']:.3g} > 1e-9"
            )
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if not failures:
        print("all floors met")
    results = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(),
        },
        "config": {k: v for k, v in vars(args).items() if k not in ("out", "child", "data")},
        "figures": figures,
        "ours_vs_scipy": vs_scipy,
        "ours_vs_evidently": vs_evidently,
        "ks_max_difference": ks_difference,
        "failures": failures,
    }
    write_results(args.out, results)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
