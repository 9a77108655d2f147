"""Serving benchmark: our inference server against `mlflow models serve`, same model, same load.

Run from the repository root with the project's virtualenv (`make test` creates it):

    .venv/bin/python benchmarks/serving_vs_mlflow.py            # full run, about 3 minutes
    .venv/bin/python benchmarks/serving_vs_mlflow.py --quick    # smoke run, short wrk runs

What it does:
- trains two scikit-learn models once, with a fixed seed, in this interpreter and saves them with
  `workloads.model_layout.save_model` (the layout our server reads);
- builds (first time only) a separate virtualenv `build/bench/mlflow-venv` with MLflow and the
  SAME scikit-learn/numpy/joblib versions as this one (MLflow is never a project dependency),
  and there re-saves the same joblib file as an MLflow model (cloudpickle format);
- serves each model with one server at a time on 127.0.0.1 (one worker each), drives it with
  `wrk` (installed with apt-get when missing and running as root) for a short warm-up and then a
  bounded measured run, and stops the server (whole process group) whatever happens;
- prints the machine, the exact commands, the figures and each floor as PASS/FAIL, writes
  `build/bench/serving.json`, and exits 1 if any floor is missed.

Scenarios and floors:
1. LogisticRegression, 20 features, 1-row JSON, 16 connections: our throughput >= 3x MLflow's
   and our p99 latency <= 0.25x MLflow's.
2. RandomForest (100 trees), 1-row JSON, 32 connections: our server with micro-batching >= 2x
   the throughput of the same server with `--no-batching` (MLflow shown for information).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench_support import free_port, pip_install, tail, write_results

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "build" / "bench"
MLFLOW_VENV = BENCH_DIR / "mlflow-venv"
MODELS_DIR = BENCH_DIR / "models"
LOGS_DIR = BENCH_DIR / "logs"
BODIES_DIR = BENCH_DIR / "bodies"
LUA_SCRIPT = REPO / "benchmarks" / "serving" / "post.lua"
TO_MLFLOW = REPO / "benchmarks" / "serving" / "to_mlflow.py"
DEFAULT_OUT = BENCH_DIR / "serving.json"

# The newest MLflow whose whole dependency set the package index here serves (3.18.0's
# mlflow-skinny is missing). Pinned so every run compares against the same rival.
DEFAULT_MLFLOW_VERSION = "3.17.2"
# Pinned in the MLflow venv to this interpreter's versions, so both servers unpickle the same
# estimator with the same code.
SHARED_PACKAGES = ("scikit-learn", "numpy", "joblib")
# Shown in the report when present in the project's venv (what our server may stand on).
# uvloop matters: our server uses it when installed, and `pip install mlflow` brings uvicorn
# without uvloop or httptools (plain asyncio and h11), which is how MLflow is measured here.
OUR_PACKAGES = (*SHARED_PACKAGES, "scipy", "uvloop")
RIVAL_PACKAGES = (
    "mlflow",
    *SHARED_PACKAGES,
    "scipy",
    "pandas",
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
)

N_FEATURES = 20
SEED = 0
SERVER_START_TIMEOUT_S = 120.0
# wrk leaves requests that time out out of its latency histogram, so the timeout is far above
# any latency we expect: a timeout is then a failure, never a flattering p99.
WRK_TIMEOUT = "30s"


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class WrkResult:
    """One measured wrk run, from the JSON line that benchmarks/serving/post.lua prints."""

    requests: int
    duration_s: float
    requests_per_s: float
    latency_ms: dict[str, float]
    errors: dict[str, int]

    @property
    def error_count(self) -> int:
        """Connect, read, write, non-2xx/3xx and timeout errors together."""
        return sum(self.errors.values())


@dataclass
class Run:
    """One server under one load: what was run and what it measured."""

    label: str
    server_command: list[str]
    wrk_command: list[str]
    body_bytes: int
    result: WrkResult
    peak_rss_mb: float
    loadavg_before: tuple[float, float, float]


@dataclass
class Check:
    """One floor: measured ratio against its limit."""

    name: str
    ratio: float
    limit: float
    at_least: bool  # True: ratio >= limit passes; False: ratio <= limit passes
    note: str = ""
    informational: bool = False  # shown, never a floor

    @property
    def passed(self) -> bool:
        """Whether the measured ratio meets the floor (always, for information lines)."""
        if self.informational:
            return True
        if self.note:  # a run with errors proves nothing either way
            return False
        return self.ratio >= self.limit if self.at_least else self.ratio <= self.limit


@dataclass
class Scenario:
    """One model and load level, its runs and its floors."""

    name: str
    model: str
    connections: int
    runs: list[Run] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


@dataclass
class BenchModel:
    """A trained model saved in both layouts, plus a request row and its expected answer."""

    name: str
    our_dir: Path
    joblib_path: Path
    mlflow_dir: Path
    row: list[float]
    expected: Any


# ---------------------------------------------------------------------------------------------
# Environment: wrk, the MLflow virtualenv, machine description


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit(
            "wrk is not installed and this is not root: run `sudo apt-get install -y wrk` "
            "(Debian/Ubuntu), then run this benchmark again."
        )
    print("wrk is missing: installing it with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        sys.exit("apt-get installed wrk but it is not on PATH")
    return found


def wrk_version(wrk: str) -> str:
    # `wrk -v` prints its version on the first line and exits 1: that is not an error here.
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()[0]
    return first.split(" Copyright")[0].strip()


def package_versions(python: str | Path, names: tuple[str, ...]) -> dict[str, str]:
    code = (
        "import json, sys\n"
        "from importlib.metadata import version, PackageNotFoundError\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = version(n)\n"
        "    except PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [str(python), "-c", code, *names], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def local_versions(names: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def ensure_mlflow_venv(venv: Path, mlflow_version: str) -> Path:
    """Create or reuse the MLflow virtualenv with MLflow and our scikit-learn stack."""
    python = venv / "bin" / "python"
    wanted = {"mlflow": mlflow_version, **local_versions(SHARED_PACKAGES)}
    missing = [name for name in SHARED_PACKAGES if name not in wanted]
    if missing:
        sys.exit(f"this interpreter lacks {missing}: run with the project's .venv/bin/python")
    if python.exists():
        have = package_versions(python, tuple(wanted))
        if have == wanted:
            return python
        print(f"MLflow venv has {have}, want {wanted}: updating it", flush=True)
    else:
        print(f"creating {venv} (first run only, a few minutes)", flush=True)
        # The venv module builds from this venv's base interpreter: same Python version.
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip_install(python, venv, [f"{name}=={ver}" for name, ver in wanted.items()])
    return python


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_description(wrk: str, mlflow_python: Path) -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_version(wrk),
        "project_packages": local_versions(OUR_PACKAGES),
        "mlflow_venv_packages": package_versions(mlflow_python, RIVAL_PACKAGES),
    }


# ---------------------------------------------------------------------------------------------
# Models


def train_models(mlflow_python: Path) -> dict[str, BenchModel]:
    # Imported here so `--help` works without the ML stack installed.
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from workloads.model_layout import save_model

    x, y = make_classification(
        n_samples=4000, n_features=N_FEATURES, n_informative=10, random_state=SEED
    )
    estimators = {
        "logreg": LogisticRegression(max_iter=1000),
        "forest": RandomForestClassifier(n_estimators=100, random_state=SEED),
    }
    feature_names = [f"f{i}" for i in range(N_FEATURES)]
    row = [float(v) for v in x[0]]
    models: dict[str, BenchModel] = {}
    for name, estimator in estimators.items():
        estimator.fit(x, y)
        our_dir = MODELS_DIR / name / "ours"
        if our_dir.exists():
            shutil.rmtree(our_dir)
        metadata = {
            "name": f"bench-{name}",
            "framework": "sklearn",
            "n_features": N_FEATURES,
            "feature_names": feature_names,
        }
        save_model(our_dir, estimator, metadata)
        joblib_path = our_dir / "model.joblib"
        if not joblib_path.exists():
            sys.exit(f"workloads.model_layout.save_model wrote no {joblib_path}")
        mlflow_dir = MODELS_DIR / name / "mlflow"
        # Same file, loaded by MLflow's own venv: the rival serves the very same estimator.
        convert = [mlflow_python, TO_MLFLOW, joblib_path, mlflow_dir, N_FEATURES]
        # Quiet unless it fails: MLflow warns about cloudpickle on every save.
        proc = subprocess.run(
            [str(part) for part in convert],
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            sys.exit(f"saving the MLflow copy of {name} failed:\n{proc.stdout}{proc.stderr}")
        expected = joblib.load(joblib_path).predict([row]).tolist()
        models[name] = BenchModel(name, our_dir, joblib_path, mlflow_dir, row, expected)
    return models


# ---------------------------------------------------------------------------------------------
# Servers


@dataclass
class ServerSpec:
    """How to start one server and talk to it."""

    label: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    body: bytes
    port: int
    log_name: str


def our_server(model: BenchModel, label: str, extra: list[str]) -> ServerSpec:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "workloads.inference.server",
        "--model-dir",
        str(model.our_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]
    body = json.dumps([model.row]).encode()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log_name = f"{model.name}-{label.replace(' ', '').replace('-', '_')}"
    return ServerSpec(label, command, env, REPO, body, port, log_name)


def mlflow_server(model: BenchModel, mlflow_python: Path) -> ServerSpec:
    port = free_port()
    bin_dir = mlflow_python.parent
    command = [
        str(bin_dir / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model.mlflow_dir),
        "--env-manager",
        "local",
        "-w",
        "1",
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
    ]
    # MLflow's scoring protocol: {"inputs": rows} goes straight to a numpy array checked against
    # the tensor signature, the cheapest of its JSON forms and the closest to ours.
    body = json.dumps({"inputs": [model.row]}).encode()
    # `mlflow models serve` execs `uvicorn` through bash by name: the venv's bin must lead PATH.
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(bin_dir.parent),
        "PYTHONUNBUFFERED": "1",
    }
    return ServerSpec("mlflow", command, env, BENCH_DIR, body, port, f"{model.name}-mlflow")


def http(
    method: str, url: str, body: bytes | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"} if body else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def process_group(pgid: int) -> list[int]:
    """The live processes of a process group (zombies left out)."""
    members = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # State and process group are fields 3 and 5 of /proc/PID/stat, after the
            # parenthesised name (which may itself hold spaces or parentheses).
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(proc.name))
        except (OSError, ValueError, IndexError):
            continue  # the process went away meanwhile
    return members


def process_group_peak_rss_mb(pgid: int) -> float:
    """Peak resident memory (VmHWM) summed over every process in the server's group."""
    total_kb = 0
    for pid in process_group(pgid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


@contextlib.contextmanager
def running(spec: ServerSpec) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server in its own process group; stop the whole group on the way out."""
    LOGS_DIR.mkdir(parents=True, exist_ok=True)
    # One log per model and server, kept after the run for post-mortems.
    log_path = LOGS_DIR / f"{spec.log_name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            spec.command,
            cwd=spec.cwd,
            env=spec.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: MLflow forks uvicorn under bash
        )
        try:
            wait_until_ready(spec, proc, log_path)
            yield proc
        finally:
            stop(proc)


def wait_until_ready(spec: ServerSpec, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    url = f"http://127.0.0.1:{spec.port}/ping"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{spec.label} exited with {proc.returncode} before answering /ping; "
                f"log {log_path}:\n{tail(log_path)}"
            )
        with contextlib.suppress(OSError):
            status, _ = http("GET", url, timeout=1.0)
            if status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(
        f"{spec.label} did not answer /ping with 200 within {SERVER_START_TIMEOUT_S:.0f} s; "
        f"log {log_path}:\n{tail(log_path)}"
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server, children first, then make sure nothing of its group is left."""
    if proc.poll() is None:
        # `mlflow models serve` is a CLI process waiting on its uvicorn child: stopping the child
        # first lets the CLI reap it and exit on its own, instead of orphaning it as a zombie.
        children = [pid for pid in process_group(proc.pid) if pid != proc.pid]
        for pid in children or [proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
    # Whatever the leader did, no straggler of this group may outlive the run.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def predictions_of(answer: Any) -> Any:
    """The prediction list in a JSON answer: MLflow wraps it in {"predictions": ...}."""
    if isinstance(answer, dict):
        for key in ("predictions", "prediction", "outputs", "output"):
            if key in answer:
                return answer[key]
    return answer


def check_answer(spec: ServerSpec, model: BenchModel) -> None:
    """One request before loading it: the server must answer the benchmark's body correctly."""
    url = f"http://127.0.0.1:{spec.port}/invocations"
    status, raw = http("POST", url, spec.body, timeout=30.0)
    if status != 200:
        raise RuntimeError(f"{spec.label} answered {status} to the benchmark body: {raw[:500]!r}")
    got = predictions_of(json.loads(raw))
    if got != model.expected:
        raise RuntimeError(
            f"{spec.label} predicted {got!r} for the benchmark row, the model gives "
            f"{model.expected!r}: not the same model or not the same answer"
        )


# ---------------------------------------------------------------------------------------------
# Load


def run_wrk(
    wrk: str, spec: ServerSpec, connections: int, duration_s: int, threads: int
) -> tuple[list[str], WrkResult]:
    body_file = BODIES_DIR / f"{spec.log_name}.json"
    body_file.parent.mkdir(parents=True, exist_ok=True)
    body_file.write_bytes(spec.body)
    # `env VAR=... wrk ...`: the command as printed is the command run, runnable by hand.
    command = [
        "env",
        f"WRK_BODY_FILE={body_file}",
        wrk,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        WRK_TIMEOUT,
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        f"http://127.0.0.1:{spec.port}/invocations",
    ]
    proc = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=duration_s + 120
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return command, parse_wrk(proc.stdout)


def parse_wrk(stdout: str) -> WrkResult:
    for line in stdout.splitlines():
        if line.startswith("WRK_JSON "):
            raw = json.loads(line.removeprefix("WRK_JSON "))
            break
    else:
        raise RuntimeError(f"no WRK_JSON line in wrk's output:\n{stdout}")
    duration_s = raw["duration_us"] / 1e6
    latency_ms = {key: value / 1000 for key, value in raw["latency_us"].items()}
    return WrkResult(
        requests=raw["requests"],
        duration_s=duration_s,
        requests_per_s=raw["requests"] / duration_s if duration_s else 0.0,
        latency_ms=latency_ms,
        errors=raw["errors"],
    )


def measure(
    wrk: str,
    spec: ServerSpec,
    model: BenchModel,
    connections: int,
    args: argparse.Namespace,
) -> Run:
    print(f"  {spec.label}: starting  $ {shlex.join(spec.command)}", flush=True)
    with running(spec) as proc:
        check_answer(spec, model)
        # Warm-up: first-request costs (imports, caches, allocator growth) are not steady state.
        run_wrk(wrk, spec, connections, args.warmup, args.wrk_threads)
        loadavg = os.getloadavg()
        command, result = run_wrk(wrk, spec, connections, args.duration, args.wrk_threads)
        peak_rss = process_group_peak_rss_mb(proc.pid)
    print(
        f"  {spec.label}: {result.requests_per_s:,.0f} req/s, "
        f"p99 {result.latency_ms['p99']:.2f} ms, errors {result.error_count}",
        flush=True,
    )
    return Run(spec.label, spec.command, command, len(spec.body), result, peak_rss, loadavg)


# ---------------------------------------------------------------------------------------------
# Scenarios


def ratio_check(
    name: str, numerator: Run, denominator: Run, metric: str, limit: float, at_least: bool
) -> Check:
    def value(run: Run) -> float:
        if metric == "throughput":
            return run.result.requests_per_s
        return run.result.latency_ms["p99"]

    bad = [run.label for run in (numerator, denominator) if run.result.error_count]
    note = f"errors during {', '.join(bad)}" if bad else ""
    ratio = value(numerator) / value(denominator) if value(denominator) else float("inf")
    return Check(name, ratio, limit, at_least, note)


def run_scenarios(
    wrk: str, models: dict[str, BenchModel], mlflow_python: Path, args: argparse.Namespace
) -> list[Scenario]:
    batching_flags = [
        "--max-batch-size",
        str(args.max_batch_size),
        "--max-batch-wait-ms",
        str(args.max_batch_wait_ms),
    ]
    scenarios: list[Scenario] = []

    s1 = Scenario("1: LogisticRegression, 20 features, 1-row JSON", "logreg", 16)
    print(f"\nscenario {s1.name}, {s1.connections} connections", flush=True)
    logreg = models["logreg"]
    rival = measure(wrk, mlflow_server(logreg, mlflow_python), logreg, s1.connections, args)
    s1.runs.append(rival)
    if not args.rival_only:
        ours = measure(
            wrk, our_server(logreg, "ours", batching_flags), logreg, s1.connections, args
        )
        s1.runs.insert(0, ours)
        s1.checks += [
            ratio_check("throughput ours / mlflow", ours, rival, "throughput", 3.0, True),
            ratio_check("p99 latency ours / mlflow", ours, rival, "p99", 0.25, False),
        ]
    scenarios.append(s1)

    s2 = Scenario("2: RandomForest, 100 trees, 1-row JSON", "forest", 32)
    print(f"\nscenario {s2.name}, {s2.connections} connections", flush=True)
    forest = models["forest"]
    if not args.rival_only:
        batched = measure(
            wrk, our_server(forest, "ours", batching_flags), forest, s2.connections, args
        )
        unbatched = measure(
            wrk,
            our_server(forest, "ours --no-batching", ["--no-batching"]),
            forest,
            s2.connections,
            args,
        )
        s2.runs += [batched, unbatched]
        s2.checks.append(
            ratio_check(
                "throughput batching / --no-batching", batched, unbatched, "throughput", 2.0, True
            )
        )
    s2.runs.append(measure(wrk, mlflow_server(forest, mlflow_python), forest, s2.connections, args))
    if not args.rival_only:
        ours_vs_rival = ("throughput ours / mlflow", s2.runs[0], s2.runs[-1])
        info = ratio_check(*ours_vs_rival, "throughput", 0.0, True)
        info.informational = True
        s2.checks.append(info)
    scenarios.append(s2)
    return scenarios


# ---------------------------------------------------------------------------------------------
# Report


def print_report(
    machine: dict[str, Any], scenarios: list[Scenario], args: argparse.Namespace
) -> bool:
    print("\n" + "=" * 100)
    print("machine")
    print(f"  {machine['nproc']} CPUs: {machine['cpu_model']}, {machine['memory_gib']} GiB")
    print(f"  Linux {machine['kernel']}, Python {machine['python']}, {machine['wrk']}")
    print(f"  project venv: {fmt_versions(machine['project_packages'])}")
    print(f"  mlflow venv:  {fmt_versions(machine['mlflow_venv_packages'])}")
    print(
        f"settings: warm-up {args.warmup} s then {args.duration} s measured per server, "
        f"{args.wrk_threads} wrk thread(s), one server at a time, 127.0.0.1 only"
    )
    print(
        "load: the 1-minute load average just before each measured run (other work on the "
        "machine shows there); peak RSS: all processes of the server's group"
    )
    print(
        "request bodies: one row of 20 floats; ours `[[...]]`, MLflow's scoring protocol "
        '`{"inputs": [[...]]}` (same numbers, a few bytes more)'
    )
    all_passed = True
    for scenario in scenarios:
        print(f"\nscenario {scenario.name}, {scenario.connections} connections")
        header = (
            f"  {'server':<20}{'req/s':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
            f"{'p99.9 ms':>10}{'max ms':>9}{'errors':>8}{'peak RSS MB':>13}{'load':>6}"
        )
        print(header)
        for run in scenario.runs:
            r, lat = run.result, run.result.latency_ms
            print(
                f"  {run.label:<20}{r.requests_per_s:>10,.0f}{lat['p50']:>9.2f}"
                f"{lat['p90']:>9.2f}{lat['p99']:>9.2f}{lat['p99_9']:>10.2f}{lat['max']:>9.1f}"
                f"{r.error_count:>8}{run.peak_rss_mb:>13.0f}{run.loadavg_before[0]:>6.2f}"
            )
        for check in scenario.checks:
            if check.informational:
                print(f"  {check.name}: {check.ratio:.2f}x (information, no floor)")
                continue
            sign = ">=" if check.at_least else "<="
            verdict = "PASS" if check.passed else "FAIL"
            note = f" ({check.note})" if check.note else ""
            print(
                f"  {check.name}: {check.ratio:.2f}x (floor {sign} {check.limit:.2f}x) "
                f"{verdict}{note}"
            )
            all_passed &= check.passed
    print("\ncommands")
    for scenario in scenarios:
        for run in scenario.runs:
            print(f"  [{scenario.name[:1]}] {run.label}: $ {shlex.join(run.server_command)}")
            print(f"      load: $ {shlex.join(run.wrk_command)}")
    return all_passed


def fmt_versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{name} {ver}" for name, ver in versions.items())


def write_json(
    path: Path,
    machine: dict[str, Any],
    scenarios: list[Scenario],
    args: argparse.Namespace,
    passed: bool,
) -> None:
    def scenario_json(scenario: Scenario) -> dict[str, Any]:
        return {
            "name": scenario.name,
            "model": scenario.model,
            "connections": scenario.connections,
            "runs": [asdict(run) for run in scenario.runs],
            "checks": [{**asdict(check), "passed": check.passed} for check in scenario.checks],
        }

    document = {
        "benchmark": "serving_vs_mlflow",
        "machine": machine,
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "wrk_threads": args.wrk_threads,
            "wrk_timeout": WRK_TIMEOUT,
            "max_batch_size": args.max_batch_size,
            "max_batch_wait_ms": args.max_batch_wait_ms,
            "rival_only": args.rival_only,
        },
        "scenarios": [scenario_json(s) for s in scenarios],
        "passed": passed,
    }
    write_results(path, document)


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Our inference server against `mlflow models serve` (see module docstring)."
    )
    parser.add_argument("--duration", type=int, default=12, help="measured seconds per server")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per server")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s warm-up, 3 s measured")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--max-batch-wait-ms", type=float, default=2.0)
    parser.add_argument("--mlflow-version", default=DEFAULT_MLFLOW_VERSION)
    parser.add_argument(
        "--mlflow-venv",
        type=Path,
        default=MLFLOW_VENV,
        help="virtualenv for MLflow, created on first use (default build/bench/mlflow-venv)",
    )
    parser.add_argument(
        "--rival-only", action="store_true", help="measure MLflow only (no floors checked)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args(argv)
    # Paths given on the command line are relative to where we were started, not to the repo.
    args.mlflow_venv, args.out = args.mlflow_venv.resolve(), args.out.resolve()
    if args.quick:
        args.duration, args.warmup = 3, 1
    if not 1 <= args.duration <= 120 or not 0 <= args.warmup <= 30:
        parser.error("--duration must be 1..120 s and --warmup 0..30 s (bounded load)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))  # `workloads` from this checkout, however we were started
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    mlflow_python = ensure_mlflow_venv(args.mlflow_venv, args.mlflow_version)
    machine = machine_description(wrk, mlflow_python)
    print("training and saving the models (fixed seed)", flush=True)
    models = train_models(mlflow_python)
    try:
        scenarios = run_scenarios(wrk, models, mlflow_python, args)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        # A server that does not start or answers wrongly: no figure is worth printing.
        print(f"\nbenchmark aborted: {error}", file=sys.stderr)
        return 2
    passed = print_report(machine, scenarios, args)
    write_json(args.out, machine, scenarios, args, passed)
    print(f"\nresults: {args.out}")
    if args.rival_only:
        print("rival only: no floors checked")
        return 0
    print("ALL FLOORS PASS" if passed else "SOME FLOORS FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
