"""Health checks under load and shutdown time: our inference server against its previous version.

Run from the repository root with the project's virtualenv:

    .venv/bin/python benchmarks/serving_health_under_load.py --baseline-ref 5e39a82
    .venv/bin/python benchmarks/serving_health_under_load.py --quick      # fewer pings, no wrk

The rival is the same server before predict moved off the event loop: ``--baseline-ref`` names
a commit whose ``workloads/`` is extracted (``git archive``) into ``build/bench/health/`` and
run from there. Both sides serve the same saved models, one process each on 127.0.0.1.

Scenarios:
1. ``/ping`` under load: a RandomForest (300 trees) and ``--loaders`` clients each posting a
   20,000-row ``.npy`` batch in a loop; meanwhile ``--pings`` sequential ``GET /ping`` on fresh
   connections. Reported: p50, p99, max. Floor (ours): p99 <= 100 ms, 20x under the KServe
   readiness probe's 2 s timeout (components/kubernetes/inference_service.py). On the shared
   2-core VM the p50 is 1-3 ms; the p99 is 15-30 ms at load average ~3 and reached 95 ms at
   ~4.5 (the worker thread holds the GIL between the loop's reads). The previous server: p50
   1.8-2.4 s, p99 3.3-3.5 s (it computed the batches on the loop).
2. Shutdown with a half-sent request: a client sends a head announcing 100 bytes and 5 of them,
   then SIGTERM; the time until the process exits. Floor (ours): <= its drain bound + 3 s.
   Measured: 10.3 s (the 10 s default bound) against 30.3 s (the previous 30 s drain).
3. Throughput on a tiny model (LogisticRegression, 1-row JSON, 16 connections, 10 s) with wrk,
   when wrk is installed: the price of handing each batch to the worker thread. Information
   only (no floor): the machine is shared and the rival runs predict inline. Measured at load
   average ~4.5: 8.9k req/s against the previous server's 12.5k (p99 9.5 ms against 8.6 ms).

Prints the figures and each floor as PASS/FAIL, writes ``build/bench/health/results.json``, exits
1 if a floor is missed. Timing claims live here, never in the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from bench_support import free_port

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "build" / "bench" / "health"
LUA_SCRIPT = REPO / "benchmarks" / "serving" / "post.lua"
FEATURES = 20
PING_P99_FLOOR_MS = 100.0
EXIT_MARGIN_S = 3.0
OUR_DRAIN_S = 10.0  # workloads.inference.contract.DEFAULT_DRAIN_SECONDS, run with its default


def train_models(models_dir: Path) -> tuple[Path, Path]:
    """A 300-tree RandomForest and a LogisticRegression on seeded data, in our layout."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    sys.path.insert(0, str(REPO))
    from workloads.model_layout import save_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, FEATURES))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    names = [f"f{i}" for i in range(FEATURES)]
    forest, linear = models_dir / "forest", models_dir / "linear"
    if not (forest / "metadata.json").exists():
        model = RandomForestClassifier(n_estimators=300, random_state=0, n_jobs=1).fit(x, y)
        save_model(forest, model, {"feature_names": names})
    if not (linear / "metadata.json").exists():
        save_model(linear, LogisticRegression().fit(x, y), {"feature_names": names})
    return forest, linear


def extract_baseline(ref: str) -> Path:
    """``workloads/`` at ``ref``, extracted once under build/bench/health/."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    target = BENCH_DIR / f"baseline-{sha}"
    if not (target / "workloads").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha, "workloads"], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


class Server:
    """One server process from a source tree (ours: the repository; the rival: its extract)."""

    def __init__(self, tree: Path, model_dir: Path, *flags: str) -> None:
        self.port = free_port()
        self.command = [
            sys.executable,
            "-m",
            "workloads.inference.server",
            "--model-dir",
            str(model_dir),
            "--port",
            str(self.port),
            *flags,
        ]
        self.process = subprocess.Popen(
            self.command,
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if self.get("/ping", 1.0) == 200:
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            time.sleep(0.1)
        raise RuntimeError("server not ready in 60 s")

    def get(self, path: str, timeout: float) -> int:
        """GET ``path`` on a fresh connection; the status."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as r:
            r.read()
            return int(r.status)

    def stop(self) -> None:
        """Kill the server's process group if it is still there."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


@contextlib.contextmanager
def serving(tree: Path, model_dir: Path, *flags: str) -> Iterator[Server]:
    server = Server(tree, model_dir, *flags)
    try:
        yield server
    finally:
        server.stop()


def big_batch(rows: int) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(1).normal(size=(rows, FEATURES)))
    return buffer.getvalue()


def ping_under_load(
    tree: Path, forest: Path, loaders: int, pings: int, rows: int
) -> dict[str, float]:
    """Latency of /ping while ``loaders`` clients keep big batches in predict."""
    body = big_batch(rows)
    stop = threading.Event()
    done: list[float] = []

    with serving(tree, forest) as server:

        def load() -> None:
            while not stop.is_set():
                request = urllib.request.Request(
                    f"http://127.0.0.1:{server.port}/invocations",
                    data=body,
                    headers={"Content-Type": "application/x-npy"},
                )
                started = time.perf_counter()
                with urllib.request.urlopen(request, timeout=120) as answer:
                    answer.read()
                done.append(time.perf_counter() - started)

        threads = [threading.Thread(target=load, daemon=True) for _ in range(loaders)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # let the first batches reach predict
        latencies = []
        for _ in range(pings):
            started = time.perf_counter()
            server.get("/ping", 60.0)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
        stop.set()
        for thread in threads:
            thread.join(180)
    latencies.sort()
    return {
        "pings": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "max_ms": round(latencies[-1], 2),
        "batch_seconds_median": round(statistics.median(done), 3) if done else float("nan"),
    }


def exit_with_half_sent_request(tree: Path, linear: Path) -> float:
    """Seconds from SIGTERM to exit while a client holds a half-sent request."""
    server = Server(tree, linear)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=120) as client:
            client.sendall(
                b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[[0.5"
            )
            time.sleep(0.2)
            started = time.perf_counter()
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(120)
            return round(time.perf_counter() - started, 2)
    finally:
        server.stop()


def throughput(tree: Path, linear: Path, wrk: str, seconds: int) -> dict[str, float]:
    """Requests per second on 1-row JSON, 16 connections (wrk, benchmarks/serving/post.lua)."""
    body_file = BENCH_DIR / "one_row.json"
    body_file.write_text(json.dumps([[0.1] * FEATURES]))
    with serving(tree, linear) as server:
        command = [
            "env",
            f"WRK_BODY_FILE={body_file}",
            wrk,
            "-t2",
            "-c16",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(LUA_SCRIPT),
            f"http://127.0.0.1:{server.port}/invocations",
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    return {
        "requests_per_second": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p99_ms": raw["latency_us"]["p99"] / 1000,
        "errors": sum(raw["errors"].values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", default="5e39a82", help="the rival's commit")
    parser.add_argument("--loaders", type=int, default=3, help="clients posting big batches")
    parser.add_argument("--pings", type=int, default=200)
    parser.add_argument("--rows", type=int, default=20_000, help="rows per big batch")
    parser.add_argument("--quick", action="store_true", help="50 pings, no throughput run")
    args = parser.parse_args()
    pings = 50 if args.quick else args.pings
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    forest, linear = train_models(BENCH_DIR / "models")
    sides = {"ours": REPO, f"baseline {args.baseline_ref}": extract_baseline(args.baseline_ref)}
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, load {os.getloadavg()}")
    results: dict[str, dict[str, object]] = {}
    for name, tree in sides.items():
        side: dict[str, object] = {}
        side["ping_under_load"] = ping_under_load(tree, forest, args.loaders, pings, args.rows)
        side["exit_seconds_with_half_sent_request"] = exit_with_half_sent_request(tree, linear)
        wrk = shutil.which("wrk")
        if wrk and not args.quick:
            side["throughput_1_row"] = throughput(tree, linear, wrk, 10)
        results[name] = side
        print(f"{name}: {json.dumps(side)}", flush=True)
    ours = results["ours"]
    floors = {
        f"ours: /ping p99 under load <= {PING_P99_FLOOR_MS} ms": ours["ping_under_load"]["p99_ms"]  # type: ignore[index]
        <= PING_P99_FLOOR_MS,
        f"ours: exit with a half-sent request <= {OUR_DRAIN_S + EXIT_MARGIN_S} s": ours[
            "exit_seconds_with_half_sent_request"
        ]
        <= OUR_DRAIN_S + EXIT_MARGIN_S,  # type: ignore[operator]
    }
    for floor, passed in floors.items():
        print(f"{'PASS' if passed else 'FAIL'} {floor}")
    (BENCH_DIR / "results.json").write_text(json.dumps({"results": results, "floors": floors}))
    return 0 if all(floors.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
