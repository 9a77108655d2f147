"""Drift check memory: peak RSS of `check` on windows of 1x, 4x and 16x, ours and the previous.

Run from the repository root with the project's virtualenv:

    .venv/bin/python benchmarks/monitoring_memory.py                  # 20,000 requests at 1x
    .venv/bin/python benchmarks/monitoring_memory.py --requests 5000  # a quicker run
    .venv/bin/python benchmarks/monitoring_memory.py --skip-previous  # ours only

What is measured, and how it is made fair:
- one baseline (4 inputs: two numeric, one integral, one categorical, and the predictions), built
  from 200,000 seeded training rows and written once; every run checks against the same folder;
- windows of `--requests` x 1, 4 and 16 CSV requests (a fresh seeded draw per window, so the
  larger windows bring new distinct values, not copies), ~190 bytes a line;
- one window of a single 50 MB request (past the 16 MiB line bound: skipped unread), and one of a
  single 6 MB CSV request holding 300,000 rows (within the bounds: read whole);
- each check is the `check` command (`workloads.monitoring.cli.main`) in a fresh process, which
  then reports its own peak RSS (VmHWM in /proc/self/status), so imports count the same on each
  side; a process that only imports the check and loads the baseline gives the floor both share;
- the previous check is this repository's `workloads/monitoring` at `--previous` (default: the
  commit before the streaming check), extracted with `git archive` and run the same way;
- on the 1x window ours and the previous one must agree: KS statistics and PSI within 1e-12.

Floors (exit 1 when one is missed, naming it): ours at 16x <= 1.25x ours at 1x (memory
independent of the window), the single 50 MB request <= 1.25x ours at 1x, figures equal.
Results go to build/bench/monitoring_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_support import write_results

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "build" / "bench"
DEFAULT_OUT = BENCH_DIR / "monitoring_memory.json"
#: The last commit whose check held the whole window in memory.
DEFAULT_PREVIOUS = "5e39a82"
SCALES = (1, 4, 16)
TARGET_GROWTH = 1.25
TOLERANCE = 1e-12
CHANNELS = ("web", "app", "store")
TIME = "2026-11-22T10:15:00Z"


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def input_columns(
    rng: np.random.Generator,
    rows: int,
    *,
    amount_mean: float = 100.0,
    score_in_mean: float = 0.0,
    channel_p: list[float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The endpoint's inputs (amount, tenure (Integral), score_in, channel), drawn in that order.

    The means and the channel shares (uniform when None) are what a window shifts to drift.
    """
    amount = rng.normal(amount_mean, 15.0, rows)
    tenure = rng.integers(1, 60, rows)
    score_in = rng.lognormal(score_in_mean, 0.5, rows)
    channel = rng.choice(CHANNELS, rows, p=channel_p)
    return amount, tenure, score_in, channel


def capture_path(folder: Path) -> Path:
    """Where SageMaker would write a capture file of variant ``main`` for the hour (folder made)."""
    path = folder / "main" / "2026" / "11" / "22" / "10" / "capture.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def training_csv(path: Path, rows: int, seed: int) -> None:
    """A training table: amount, tenure (Integral), score_in, channel, label, score."""
    rng = np.random.default_rng(seed)
    amount, tenure, score_in, channel = input_columns(rng, rows, channel_p=[0.5, 0.3, 0.2])
    score = rng.beta(2, 5, rows)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("amount,tenure,score_in,channel,label,score\n")
        for index in range(rows):
            handle.write(
                f"{amount[index]:.6f},{tenure[index]},{score_in[index]:.6f},"
                f"{channel[index]},{index % 2},{score[index]:.6f}\n"
            )


def capture_record(data: str, prediction: str) -> str:
    """One capture line: a CSV request and a JSON answer."""
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": data,
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": prediction,
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": TIME},
            "eventVersion": "0",
        }
    )


def window(folder: Path, requests: int, seed: int) -> int:
    """A capture folder of ``requests`` one-row CSV requests; returns its size in bytes."""
    rng = np.random.default_rng(seed)
    amount, tenure, score_in, channel = input_columns(
        rng, requests, amount_mean=103.0, score_in_mean=0.05, channel_p=[0.45, 0.35, 0.2]
    )
    score = rng.beta(2, 5, requests)
    path = capture_path(folder)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(requests):
            row = f"{amount[index]:.4f},{tenure[index]},{score_in[index]:.4f},{channel[index]}"
            answer = json.dumps({"predictions": [round(float(score[index]), 4)]})
            handle.write(capture_record(row, answer) + "\n")
    return path.stat().st_size


def one_request(folder: Path, rows: int, seed: int) -> int:
    """A capture folder of one CSV request of ``rows`` rows (and their predictions)."""
    rng = np.random.default_rng(seed)
    amount, tenure, score_in, channel = input_columns(rng, rows)
    data = "\n".join(
        f"{amount[i]:.3f},{tenure[i]},{score_in[i]:.3f},{channel[i]}" for i in range(rows)
    )
    answer = json.dumps({"predictions": np.round(rng.beta(2, 5, rows), 3).tolist()})
    path = capture_path(folder)
    path.write_text(capture_record(data, answer) + "\n", encoding="utf-8")
    return path.stat().st_size


# --------------------------------------------------------------------------------------------
# runs, each in its own process
# --------------------------------------------------------------------------------------------


#: Runs in each measured process: the command, then that process's own peak RSS. VmHWM is the
#: high-water mark of the process's memory since exec. (A child's ru_maxrss from wait4 would not
#: do: Linux carries the parent's RSS at fork into it, and the parent holds the generated data.)
WRAPPER = """
import sys
status = 0
if sys.argv[1] == "check":
    from workloads.monitoring.cli import main
    status = main(sys.argv[1:])
else:
    from pathlib import Path
    import workloads.monitoring.check, workloads.monitoring.report
    import workloads.monitoring.statistics as statistics
    from workloads.monitoring.baseline import load_baseline
    load_baseline(Path(sys.argv[2]))
    statistics.ks_p_value(0.1, 10, 10)
with open("/proc/self/status") as handle:
    peak = next(line.split()[1] for line in handle if line.startswith("VmHWM:"))
print(f"PEAK_RSS_KB={peak}")
sys.exit(status)
"""


def peak_rss(arguments: list[str], code: Path) -> tuple[int, float]:
    """Run the wrapper with ``arguments`` and ``code`` first on the path: peak RSS (bytes), s."""
    environment = {**os.environ, "PYTHONPATH": str(code)}
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-c", WRAPPER, *arguments],
        cwd=code,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        message = finished.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise SystemExit(f"check failed ({finished.returncode}): {message[0]}")
    peak = finished.stdout.strip().splitlines()[-1]
    return int(peak.removeprefix("PEAK_RSS_KB=")) * 1024, seconds


def check(code: Path, baseline: Path, capture: Path, out: Path) -> tuple[int, float]:
    return peak_rss(
        [
            "check",
            "--baseline",
            str(baseline),
            "--capture",
            str(capture),
            "--endpoint",
            "bench",
            "--out",
            str(out),
        ],
        code,
    )


def floor(code: Path, baseline: Path) -> int:
    """Peak RSS of importing the check and loading the baseline: what every run pays."""
    return peak_rss(["floor", str(baseline)], code)[0]


def figures(out: Path) -> dict[str, tuple[float | None, float | None]]:
    summary = json.loads((out / "summary.json").read_text())
    return {f["name"]: (f.get("ks_statistic"), f.get("psi")) for f in summary["features"]}


def largest_gap(ours: dict[str, Any], previous: dict[str, Any]) -> float:
    if ours.keys() != previous.keys():
        return float("inf")
    gap = 0.0
    for name, pair in ours.items():
        for mine, theirs in zip(pair, previous[name], strict=True):
            if (mine is None) != (theirs is None):
                return float("inf")
            if mine is not None:
                gap = max(gap, abs(mine - theirs))
    return gap


def extract_previous(revision: str, into: Path) -> Path:
    """``workloads/`` at ``revision``, extracted with git archive into ``into``."""
    archive = into / "previous.tar"
    with archive.open("wb") as handle:
        subprocess.run(
            ["git", "archive", revision, "workloads"], cwd=REPO, stdout=handle, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into / "previous", filter="data")
    return into / "previous"


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def megabytes(value: float) -> str:
    return f"{value / 1e6:8.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests in the 1x window")
    parser.add_argument("--previous", default=DEFAULT_PREVIOUS, help="git revision to compare")
    parser.add_argument("--skip-previous", action="store_true")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        print("preparing the baseline and the windows ...", flush=True)
        training_csv(work / "train.csv", 200_000, seed=0)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "workloads.monitoring",
                "baseline",
                "--data",
                str(work / "train.csv"),
                "--exclude",
                "label",
                "--prediction-column",
                "score",
                "--categorical",
                "channel",
                "--out",
                str(work / "baseline"),
            ],
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        windows: dict[str, tuple[Path, int]] = {}
        for scale in SCALES:
            folder = work / f"window-{scale}x"
            windows[f"{scale}x"] = (folder, window(folder, args.requests * scale, seed=scale))
        folder = work / "one-50MB-request"
        windows["one 50 MB request"] = (folder, one_request(folder, 2_500_000, seed=7))
        folder = work / "one-6MB-request"
        windows["one 6 MB request"] = (folder, one_request(folder, 300_000, seed=8))

        sides = {"ours": REPO}
        if not args.skip_previous:
            sides["previous"] = extract_previous(args.previous, work)
        results: dict[str, Any] = {"requests_1x": args.requests, "sides": {}}
        for side, code in sides.items():
            floor_rss = floor(code, work / "baseline")
            runs = {}
            for name, (folder, size) in windows.items():
                out = work / f"out-{side}-{name.replace(' ', '-')}"
                try:
                    rss, seconds = check(code, work / "baseline", folder, out)
                except SystemExit as failure:
                    runs[name] = {"bytes": size, "error": str(failure)[:300]}
                    print(f"{side:8s} {name:18s} failed: {str(failure)[:120]}", flush=True)
                    continue
                runs[name] = {"bytes": size, "peak_rss": rss, "seconds": round(seconds, 2)}
                if name == "1x":
                    runs[name]["figures"] = figures(out)
                print(
                    f"{side:8s} {name:18s} window {megabytes(size)} MB  peak RSS "
                    f"{megabytes(rss)} MB  ({seconds:.1f} s)",
                    flush=True,
                )
            results["sides"][side] = {"floor_rss": floor_rss, "runs": runs}

    ours = results["sides"]["ours"]
    base = ours["runs"]["1x"]["peak_rss"]
    print(f"\nfloor (imports + baseline): ours {megabytes(ours['floor_rss'])} MB")
    print(f"{'window':18s} {'ours / ours 1x':>15s} {'previous / previous 1x':>24s}")
    previous = results["sides"].get("previous")
    for name in windows:
        mine = ours["runs"][name].get("peak_rss")
        line = f"{name:18s} {mine / base if mine else float('nan'):15.2f}"
        if previous:
            theirs = previous["runs"][name].get("peak_rss")
            their_base = previous["runs"]["1x"].get("peak_rss")
            ratio = theirs / their_base if theirs and their_base else float("nan")
            line += f" {ratio:24.2f}"
        print(line)

    failures = []
    for name in ("16x", "one 50 MB request"):
        growth = ours["runs"][name]["peak_rss"] / base
        results[f"growth_{name}"] = growth
        if growth > TARGET_GROWTH:
            failures.append(f"ours on {name}: {growth:.2f}x the 1x peak (floor <= {TARGET_GROWTH})")
    if previous and "figures" in previous["runs"]["1x"]:
        gap = largest_gap(ours["runs"]["1x"]["figures"], previous["runs"]["1x"]["figures"])
        results["largest_figure_gap"] = gap
        print(f"\nKS and PSI on the 1x window: max |ours - previous| = {gap:.3g}")
        if gap > TOLERANCE:
            failures.append(f"figures differ from the previous check by {gap:.3g}")
    write_results(args.out, results)
    print(f"wrote {args.out}")
    for failure in failures:
        print(f"FLOOR MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
