"""The cost of data capture: our inference server with capture on (100%) against off, same load.

Run from the repository root with the project's virtualenv:

    .venv/bin/python benchmarks/serving_capture.py              # 12 rounds of 5 s per side
    .venv/bin/python benchmarks/serving_capture.py --quick      # 2 rounds of 1 s: a smoke run

What it does:
- trains one LogisticRegression (20 features, seeded) and saves it in our layout: the tiniest
  predict, so the capture's share of each request is the largest it gets;
- starts two servers on 127.0.0.1 from the same model, one with ``--capture-dir DIR`` (100%,
  the default ``--capture-percent``) and one without, each in its own process group;
- checks both answer the benchmark row with the model's own prediction, warms both up, then
  loads them with ``wrk`` (benchmarks/serving/post.lua, one-row JSON, as serving_vs_mlflow.py
  does) in rounds, alternating which side goes first, so drift in the machine's load falls on
  both sides alike; each round gives one ratio (on / off);
- also reads each server process's CPU time around each run (``/proc/<pid>/stat``): CPU
  microseconds per request move far less with the machine's other work than throughput does,
  so the capture's cost shows as the difference of the two sides' medians;
- reads the capture side's ``/metrics`` after the runs and the capture folder once the servers
  have stopped: every answered invocation must have been recorded
  (``inference_capture_records_total``) and be a line on disk, and no write may have failed;
- prints each round, the throughput both ways (total requests over total seconds), their ratio
  and the median of the rounds' ratios, which is judged against the floor (0.9) with PASS/FAIL:
  on a shared machine a burst of other work lands on one side of one round, and the median of
  paired rounds ignores it where the totals do not; writes ``build/bench/serving_capture.json``
  and exits 1 when the floor or the capture check fails.

Timing claims live here, never in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import sys
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench_support import free_port, write_results
from serving_vs_mlflow import ServerSpec, WrkResult, ensure_wrk, run_wrk, running, wrk_version

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "build" / "bench" / "capture"
DEFAULT_OUT = REPO / "build" / "bench" / "serving_capture.json"
N_FEATURES = 20
SEED = 0
FLOOR = 0.9
"""Throughput with capture on over throughput with capture off, at least."""


def train_model(model_dir: Path) -> tuple[list[float], Any]:
    """A seeded LogisticRegression saved in our layout; a request row and its prediction."""
    # Imported here so `--help` works without the ML stack installed.
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    sys.path.insert(0, str(REPO))
    from workloads.model_layout import save_model

    x, y = make_classification(
        n_samples=4000, n_features=N_FEATURES, n_informative=10, random_state=SEED
    )
    model = LogisticRegression(max_iter=1000).fit(x, y)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    names = [f"f{i}" for i in range(N_FEATURES)]
    save_model(model_dir, model, {"name": "bench-capture", "feature_names": names})
    row = [float(v) for v in x[0]]
    return row, model.predict([row]).tolist()


def server_spec(model_dir: Path, label: str, extra: list[str], row: list[float]) -> ServerSpec:
    """Our server on a free port, logging to build/bench/logs/capture-<label>.log."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "workloads.inference.server",
        "--model-dir",
        str(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    body = json.dumps([row]).encode()
    return ServerSpec(label, command, env, REPO, body, port, f"capture-{label}")


def get(port: int, path: str, body: bytes | None = None) -> bytes:
    """GET (or POST ``body`` as JSON to) ``path``; the answer's body."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", body, headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return bytes(answer.read())


def metric(text: str, name: str, labels: str = "") -> float:
    """One sample's value from an exposition text (0 when absent)."""
    pattern = "^" + re.escape(name + (f"{{{labels}}}" if labels else "")) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def capture_check(port: int) -> dict[str, float]:
    """What the capture side's /metrics says: answered invocations, captured, failed."""
    text = get(port, "/metrics").decode()
    return {
        "answered": metric(text, "inference_requests_total", 'path="/invocations",status="200"'),
        "captured": metric(text, "inference_capture_records_total"),
        "failed": metric(text, "inference_capture_failures_total"),
        "enabled": metric(text, "inference_capture_enabled"),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def folder_lines_and_bytes(folder: Path) -> tuple[int, int]:
    """Lines and bytes of every file under ``folder``."""
    lines = size = 0
    for path in folder.rglob("*.jsonl"):
        content = path.read_bytes()
        lines, size = lines + content.count(b"\n"), size + len(content)
    return lines, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="measured runs per side")
    parser.add_argument("--duration", type=int, default=5, help="seconds per measured run")
    parser.add_argument(
        "--warmup", type=int, default=3, help="seconds of warm-up per side (0: none)"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1 s, 1 s warm-up")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup = 2, 1, 1
    wrk = ensure_wrk()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    capture_dir = BENCH_DIR / "captured"
    if capture_dir.exists():
        shutil.rmtree(capture_dir)
    row, expected = train_model(BENCH_DIR / "model")
    model_dir = BENCH_DIR / "model"
    specs = {
        "off": server_spec(model_dir, "off", [], row),
        "on": server_spec(model_dir, "on", ["--capture-dir", str(capture_dir)], row),
    }
    print(
        f"machine: {platform.platform()}, {len(os.sched_getaffinity(0))} cores, "
        f"load {os.getloadavg()}, {wrk_version(wrk)}",
        flush=True,
    )
    runs: dict[str, list[WrkResult]] = {"off": [], "on": []}
    commands: dict[str, list[str]] = {}
    cpu_us: dict[str, list[float]] = {"off": [], "on": []}
    pids: dict[str, int] = {}
    with ExitStack() as servers:
        for side, spec in specs.items():
            print(f"  {side}: $ {shlex.join(spec.command)}", flush=True)
            pids[side] = servers.enter_context(running(spec)).pid
            answer = json.loads(get(spec.port, "/invocations", spec.body))
            if answer.get("predictions") != expected:
                sys.exit(f"capture {side} answered {answer!r}, the model predicts {expected!r}")
            if args.warmup > 0:
                run_wrk(wrk, spec, args.connections, args.warmup, args.wrk_threads)
        for round_number in range(args.rounds):
            order = ("off", "on") if round_number % 2 == 0 else ("on", "off")
            figures = []
            for side in order:
                spec = specs[side]
                cpu_before = cpu_seconds(pids[side])
                command, result = run_wrk(
                    wrk, spec, args.connections, args.duration, args.wrk_threads
                )
                used = cpu_seconds(pids[side]) - cpu_before
                cpu_us[side].append(used / max(result.requests, 1) * 1e6)
                commands[side] = command
                runs[side].append(result)
                figures.append(
                    f"{side} {result.requests_per_s:,.0f} req/s "
                    f"(p99 {result.latency_ms['p99']:.2f} ms, {cpu_us[side][-1]:.0f} us CPU/req, "
                    f"errors {result.error_count})"
                )
            ratio = runs["on"][-1].requests_per_s / max(runs["off"][-1].requests_per_s, 1e-9)
            figures.append(f"ratio {ratio:.3f}")
            print(f"  round {round_number + 1}: " + ", ".join(figures), flush=True)
        check = capture_check(specs["on"].port)
    # The servers have stopped (SIGTERM, drain): every recorded line must be on disk now.
    on_disk, captured_bytes = folder_lines_and_bytes(capture_dir)
    throughput = {
        side: sum(r.requests for r in results) / sum(r.duration_s for r in results)
        for side, results in runs.items()
    }
    total_ratio = throughput["on"] / throughput["off"]
    round_ratios = [
        on.requests_per_s / max(off.requests_per_s, 1e-9)
        for on, off in zip(runs["on"], runs["off"], strict=True)
    ]
    ratio = statistics.median(round_ratios)
    errors = sum(r.error_count for results in runs.values() for r in results)
    # Every 200 the capture side answered (warm-up and check included) must be on disk.
    complete = check["captured"] == check["answered"] == on_disk and check["failed"] == 0
    passed = ratio >= FLOOR and errors == 0 and complete
    print(
        f"capture off: {throughput['off']:,.0f} req/s, capture on: {throughput['on']:,.0f} req/s "
        f"over {args.rounds} x {args.duration} s each: ratio of the totals {total_ratio:.3f}"
    )
    cpu_median = {side: statistics.median(values) for side, values in cpu_us.items()}
    print(
        f"server CPU per request (median of the rounds): off {cpu_median['off']:.1f} us, "
        f"on {cpu_median['on']:.1f} us (+{cpu_median['on'] - cpu_median['off']:.1f} us)"
    )
    print(
        f"captured {check['captured']:.0f} of {check['answered']:.0f} answered invocations "
        f"({check['failed']:.0f} failed), {on_disk} lines on disk, {captured_bytes / 2**20:.1f} MB"
    )
    note = "" if errors == 0 else f" ({errors} wrk errors: a run with errors proves nothing)"
    if not complete:
        note += " (not every answered invocation was captured)"
    print(
        f"{'PASS' if passed else 'FAIL'} capture on / off throughput, median of the rounds' "
        f"ratios {ratio:.3f} >= {FLOOR}{note}"
    )
    write_results(
        args.out,
        {
            "machine": {"platform": platform.platform(), "wrk": wrk_version(wrk)},
            "server_commands": {side: spec.command for side, spec in specs.items()},
            "wrk_commands": commands,
            "rounds": {side: [vars(r) for r in results] for side, results in runs.items()},
            "throughput": throughput,
            "round_ratios": round_ratios,
            "server_cpu_us_per_request": cpu_us,
            "ratio_of_totals": total_ratio,
            "median_round_ratio": ratio,
            "floor": FLOOR,
            "capture": {**check, "lines_on_disk": on_disk, "bytes": captured_bytes},
            "passed": passed,
        },
    )
    shutil.rmtree(capture_dir, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
