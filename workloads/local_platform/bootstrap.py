"""The bootstrap: when the model has no champion, train one on the churn sample and promote it.

Each step runs as a child process, logged to ``logs/bootstrap.log``: the platform's trainer
(``python -m workloads.training``), then this module's :func:`main`, which registers the model
directory and points the champion alias at it with the registry's own functions
(``workloads.lifecycle.registry``), then the monitor's ``baseline``. The champion is looked up
through MLflow's REST API, which keeps the supervisor free of mlflow's heavy import.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from workloads.local_platform.drift import build_baseline
from workloads.local_platform.layout import CHAMPION_ALIAS, Layout
from workloads.samples import churn

BOOTSTRAP_FEATURES = churn.FEATURES
"""The sample's columns the bootstrap's model is trained on (the text ones one-hot encoded by
the trainer); the baseline profiles the same columns and ``local traffic`` sends them."""
STEP_TIMEOUT_SECONDS = 300
"""The longest one bootstrap step (training, registering) may take."""


class BootstrapError(RuntimeError):
    """A bootstrap step that failed; the message names it and the log."""


def champion_version(tracking_url: str, model: str, timeout: float = 5.0) -> int | None:
    """The version ``model@champion`` points at (None: no such model or alias).

    Raises:
        OSError: MLflow could not be reached or answered with an unexpected error.

    """
    query = urllib.parse.urlencode({"name": model, "alias": CHAMPION_ALIAS})
    address = f"{tracking_url}/api/2.0/mlflow/registered-models/alias?{query}"
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:
            document = json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code in (400, 404):  # RESOURCE_DOES_NOT_EXIST / INVALID_PARAMETER_VALUE
            return None
        raise
    version = document.get("model_version", {}).get("version")
    return int(version) if version else None


def bootstrap(layout: Layout, model: str, tracking_url: str, *, baseline: bool = True) -> int:
    """Train ``model`` on the sample, register it, make it the champion; the version.

    With ``baseline``, also profiles the sample (the same columns, without the label) as the
    drift baseline, unless the state folder has one.
    """
    log = layout.log_file("bootstrap")
    model_dir = layout.bootstrap / "model"
    features = ",".join(BOOTSTRAP_FEATURES)
    _step(
        [
            sys.executable,
            "-m",
            "workloads.training",
            "--algorithm",
            "sklearn",
            "--task",
            "classification",
            "--target",
            churn.LABEL,
            "--train",
            str(churn.TRAIN_FILE),
            "--model-dir",
            str(model_dir),
            "--output-dir",
            str(layout.bootstrap / "output"),
            "--tracking-uri",
            tracking_url,
            "--experiment",
            f"{model}-local",
            "--hyperparameter",
            f"features={features}",
        ],
        log,
        "training",
    )
    # Registering and promoting in one child: each mlflow import costs seconds.
    promoted = _step(
        [
            sys.executable,
            "-m",
            "workloads.local_platform.bootstrap",
            "--model",
            model,
            "--model-dir",
            str(model_dir),
            "--tracking-uri",
            tracking_url,
        ],
        log,
        "registering",
    )
    version = _version_of(promoted, log)
    if baseline and not (layout.baseline / "statistics.json").is_file():
        excluded = [churn.LABEL, *(n for n in churn.FEATURES if n not in BOOTSTRAP_FEATURES)]
        build_baseline(layout, churn.TRAIN_FILE, excluded, log)
    return version


def baseline_exclusions(data: Path) -> list[str]:
    """The columns of ``data`` a baseline leaves out: the sample's label, when present."""
    try:
        with data.open(encoding="utf-8") as handle:
            header = handle.readline()
    except OSError:
        return []
    columns = [name.strip() for name in header.strip().split(",")]
    return [churn.LABEL] if churn.LABEL in columns else []


def _version_of(output: str, log: Path) -> int:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            try:
                return int(json.loads(line)["version"])
            except (ValueError, KeyError, TypeError):
                break
    raise BootstrapError(f"registering printed no version (see {log})")


def _step(command: list[str], log: Path, what: str) -> str:
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=STEP_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise BootstrapError(f"bootstrap {what} took over {STEP_TIMEOUT_SECONDS} s") from None
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n{completed.stdout}{completed.stderr}\n")
    if completed.returncode != 0:
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"exit status {completed.returncode}"
        raise BootstrapError(f"bootstrap {what} failed: {reason} (see {log})")
    return completed.stdout


def register_and_promote(tracking_url: str, model: str, model_dir: Path) -> int:
    """Register ``model_dir`` as a new version of ``model`` and make it the champion."""
    from workloads.lifecycle.registry import open_registry, promote, register

    client = open_registry(tracking_url)
    version = int(register(client, model, model_dir).version)
    promote(
        client,
        model,
        version,
        CHAMPION_ALIAS,
        "local platform bootstrap: trained on the churn sample",
    )
    return version


def main(argv: list[str] | None = None) -> int:
    """``python -m workloads.local_platform.bootstrap``: register, promote, print the version."""
    import argparse

    from workloads.lifecycle.registry import RegistryError
    from workloads.model_layout import ModelLayoutError
    from workloads.training.tracking import TrackingUnavailable

    parser = argparse.ArgumentParser(prog="python -m workloads.local_platform.bootstrap")
    parser.add_argument("--model", required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--tracking-uri", required=True)
    args = parser.parse_args(argv)
    try:
        version = register_and_promote(args.tracking_uri, args.model, args.model_dir)
    except (RegistryError, ModelLayoutError, TrackingUnavailable) as error:
        print(f"bootstrap: error: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"model": args.model, "version": version}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
