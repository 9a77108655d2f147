"""The MLflow model registry, locally: register a model directory, move an alias, list versions.

A registered version's artifact is always a model directory in the platform's layout
(``workloads/model_layout.py``): the ``model/`` artifact of an MLflow run, which is byte for byte
the directory the trainer wrote and the one a SageMaker package is made of. So the inference
server loads a version from MLflow exactly as it loads a directory on disk.

- :func:`register` finds the run whose ``model/`` artifact is the given directory (the trainer
  tags its run with the directory's digest, ``tracking.MODEL_DIGEST_TAG``) and registers that
  artifact; when no run has it (a model trained without tracking) it logs the directory into a
  new run first. The version's tags carry its metrics (``metric.<name>``), where they came from
  (``metrics_source``), the framework, its version and the task; its description says the same
  in one line.
- :func:`promote` points an alias (``champion``) at a version and records on that version why,
  when, and which version held the alias before.
- :func:`list_versions` describes every version: aliases, metrics, run, source.

Every failure is a :class:`RegistryError` with a one-line message naming the model, version or
alias at fault. mlflow is imported only by :func:`open_registry`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workloads.model_layout import METADATA_FILE, ModelLayoutError, ModelMetadata
from workloads.training import contract
from workloads.training.tracking import (
    MODEL_DIGEST_TAG,
    experiment_id_of,
    import_mlflow,
    model_dir_digest,
)

MODEL_ARTIFACT = "model"
"""The run artifact folder holding the model directory (where the trainer logs it)."""
METRIC_TAG = "metric."
"""Prefix of a version's metric tags: ``metric.valid_auc``."""
METRICS_SOURCE_TAG = "metrics_source"
"""The version tag saying where its metrics came from."""
REGISTER_EXPERIMENT = "ml-platform-registry"
"""The experiment of the runs that ``register`` creates for directories no run has logged."""
ALIAS_TAGS = ("reason", "promoted_at", "previous")
"""What ``promote`` records on the version, each as the tag ``alias.<alias>.<what>``."""


class RegistryError(ValueError):
    """A registry operation that cannot be done as asked; the message says why in one line."""


def tracking_uri_or_fail(argument: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The tracking URI from the argument or ``MLFLOW_TRACKING_URI``; an error when neither."""
    environ = os.environ if environ is None else environ
    uri = argument or environ.get(contract.MLFLOW_TRACKING_URI_ENV, "")
    if not uri:
        raise RegistryError(
            f"no tracking URI: pass --tracking-uri (e.g. sqlite:///build/mlflow.db) or set "
            f"{contract.MLFLOW_TRACKING_URI_ENV}"
        )
    return uri


def open_registry(tracking_uri: str) -> Any:
    """An ``MlflowClient`` on the tracking (and registry) store at ``tracking_uri``."""
    mlflow = import_mlflow(tracking_uri)
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _not_found(error: Exception) -> bool:
    return getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"


def mlflow_error() -> type[Exception]:
    """MLflow's exception class (imported when first needed)."""
    from mlflow.exceptions import MlflowException

    return MlflowException


def first_line(error: Exception) -> str:
    """The first line of an error's message, at most 300 characters."""
    text = getattr(error, "message", None) or str(error)
    return next(iter(str(text).strip().splitlines()), type(error).__name__)[:300]


def check_model(client: Any, name: str) -> None:
    """Raise a :class:`RegistryError` unless ``name`` is a registered model."""
    _registered_model(client, name)


def _registered_model(client: Any, name: str) -> Any:
    try:
        return client.get_registered_model(name)
    except mlflow_error() as error:
        if _not_found(error):
            raise RegistryError(f"no registered model {name!r} in this tracking store") from None
        raise RegistryError(f"model {name!r}: {first_line(error)}") from None


def get_version(client: Any, name: str, version: int | str) -> Any:
    """The ``ModelVersion`` ``version`` of ``name``; a one-line error naming what is missing."""
    check_model(client, name)
    try:
        return client.get_model_version(name, str(version))
    except mlflow_error() as error:
        if _not_found(error):
            raise RegistryError(f"model {name!r} has no version {version}") from None
        raise RegistryError(f"model {name!r} version {version}: {first_line(error)}") from None


def version_by_alias(client: Any, name: str, alias: str) -> Any | None:
    """The version ``alias`` of the registered model ``name`` points at; None when unset."""
    check_model(client, name)
    try:
        return client.get_model_version_by_alias(name, alias)
    except mlflow_error() as error:
        # MLflow 3 says INVALID_PARAMETER_VALUE "Registered model alias x not found."
        if _not_found(error) or "not found" in first_line(error):
            return None
        raise RegistryError(f"model {name!r} alias {alias!r}: {first_line(error)}") from None


# Metrics


def read_metrics(path: Path) -> dict[str, float]:
    """The metrics of an ``evaluation.json``, a trainer's ``metrics.json`` or a flat object.

    Accepted shapes: ``{"metrics": {name: number}}`` (the trainer's ``metrics.json`` and the
    evaluation's flat section), SageMaker's model quality shape
    ``{"<problem>_metrics": {name: {"value": number, ...}}}``, or ``{name: number}``.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RegistryError(f"{path}: cannot be read as JSON ({first_line(error)})") from None
    if not isinstance(document, dict):
        raise RegistryError(f"{path}: expected a JSON object")
    found = _flat_numbers(document.get("metrics"))
    if not found:
        for key, section in document.items():
            if key.endswith("_metrics") and isinstance(section, dict):
                values = {
                    name: item.get("value")
                    for name, item in section.items()
                    if isinstance(item, dict)
                }
                found.update(_flat_numbers(values))
    if not found:
        found = _flat_numbers(document)
    if not found:
        raise RegistryError(f'{path}: no metrics in it (expected {{"metrics": {{NAME: NUMBER}}}})')
    return found


def _flat_numbers(values: object) -> dict[str, float]:
    if not isinstance(values, dict):
        return {}
    return {
        str(name): float(value)
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def _metrics_text(metrics: Mapping[str, float]) -> str:
    return ", ".join(f"{name}={_number(value)}" for name, value in sorted(metrics.items()))


def _number(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4g}"


# Register


@dataclass(frozen=True)
class Registered:
    """What :func:`register` did."""

    name: str
    version: int
    run_id: str
    source: str
    """The version's artifact: ``runs:/<run id>/model``."""
    reused_run: bool
    """True when the directory was found as a run's artifact, False when it was logged anew."""
    metrics: dict[str, float]
    metrics_source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return dataclasses.asdict(self)


def read_model_dir(model_dir: Path) -> ModelMetadata:
    """The metadata of a model directory; a :class:`RegistryError` when it is not one."""
    try:
        metadata = ModelMetadata.read(model_dir)
    except ModelLayoutError as error:
        raise RegistryError(str(error)) from None
    if not (model_dir / metadata.model_file).is_file():
        raise RegistryError(
            f"{model_dir}: no {metadata.model_file} beside {METADATA_FILE} "
            f"(framework {metadata.framework!r})"
        )
    return metadata


def register(
    client: Any,
    name: str,
    model_dir: Path | None = None,
    *,
    run_id: str = "",
    metrics_file: Path | None = None,
) -> Registered:
    """Register ``model_dir`` (or run ``run_id``'s ``model/``) as a new version of ``name``.

    The registered model is created first if missing. The metrics are ``metrics_file``'s (an
    evaluation) or, without one, the validation metrics the trainer wrote into the directory's
    metadata, and the version says which.
    """
    if (model_dir is None) == (not run_id):
        raise RegistryError("register: name a model directory or a run, one of them")
    if run_id:
        source = f"runs:/{run_id}/{MODEL_ARTIFACT}"
        with tempfile.TemporaryDirectory(prefix="ml-platform-register-") as scratch:
            local = _download_run_model(client, run_id, source, Path(scratch))
            return _new_version(client, name, local, source, run_id, True, metrics_file)
    assert model_dir is not None
    read_model_dir(model_dir)
    digest = model_dir_digest(model_dir)
    found = _run_with_model(client, digest)
    run_id = found or _log_model_dir(client, model_dir, digest, name)
    return _new_version(client, name, model_dir, str(model_dir), run_id, bool(found), metrics_file)


def _download_run_model(client: Any, run_id: str, source: str, scratch: Path) -> Path:
    """The run's ``model/`` artifact downloaded into ``scratch``; an error unless a model dir."""
    try:
        client.get_run(run_id)
        local = Path(client.download_artifacts(run_id, MODEL_ARTIFACT, str(scratch)))
    except (mlflow_error(), OSError) as error:
        raise RegistryError(f"{source}: {first_line(error)}") from None
    if not (local / METADATA_FILE).is_file():
        raise RegistryError(
            f"{source}: not a model directory (no {METADATA_FILE}); the trainer logs one there "
            "when it runs with --tracking-uri"
        )
    return local


def _new_version(
    client: Any,
    name: str,
    model_dir: Path,
    where: str,
    run_id: str,
    reused: bool,
    metrics_file: Path | None,
) -> Registered:
    """Create the version of ``name`` whose artifact is ``runs:/<run_id>/model``."""
    metadata = read_model_dir(model_dir)
    if metrics_file is not None:
        metrics, metrics_source = read_metrics(metrics_file), str(metrics_file)
    else:
        metrics = {key: float(value) for key, value in metadata.metrics.items()}
        metrics_source = f"training validation ({where}/{METADATA_FILE})"
    _ensure_model(client, name)
    tags = {
        MODEL_DIGEST_TAG: model_dir_digest(model_dir),
        METRICS_SOURCE_TAG: metrics_source,
        "framework": metadata.framework,
        "framework_version": metadata.framework_version,
        "task": metadata.task,
        **{f"{METRIC_TAG}{key}": repr(value) for key, value in metrics.items()},
    }
    source = f"runs:/{run_id}/{MODEL_ARTIFACT}"
    description = (
        f"{metadata.framework} {metadata.framework_version} {metadata.task} model; "
        f"metrics from {metrics_source}: {_metrics_text(metrics) or 'none'}"
    )
    try:
        created = client.create_model_version(
            name, source, run_id=run_id, tags=tags, description=description
        )
    except mlflow_error() as error:
        raise RegistryError(
            f"model {name!r}: cannot register {source}: {first_line(error)}"
        ) from None
    return Registered(name, int(created.version), run_id, source, reused, metrics, metrics_source)


def _run_with_model(client: Any, digest: str) -> str | None:
    """The newest finished run whose logged model directory has ``digest``, if any."""
    experiments = [found.experiment_id for found in client.search_experiments()]
    if not experiments:
        return None
    runs = client.search_runs(
        experiments,
        filter_string=f"tags.`{MODEL_DIGEST_TAG}` = '{digest}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def _log_model_dir(client: Any, model_dir: Path, digest: str, name: str) -> str:
    """Log ``model_dir`` as the ``model/`` artifact of a new run; its run id.

    The run's artifacts go beside a local SQLite store's database, not into ``./mlruns``.
    """
    run = client.create_run(
        experiment_id_of(client, REGISTER_EXPERIMENT, client.tracking_uri),
        run_name=f"register-{name}",
        tags={MODEL_DIGEST_TAG: digest, "ml_platform.model_dir": str(model_dir.resolve())},
    )
    client.log_artifacts(run.info.run_id, str(model_dir), MODEL_ARTIFACT)
    client.set_terminated(run.info.run_id, "FINISHED")
    return str(run.info.run_id)


def _ensure_model(client: Any, name: str) -> None:
    try:
        client.get_registered_model(name)
        return
    except mlflow_error() as error:
        if not _not_found(error):
            raise RegistryError(f"model {name!r}: {first_line(error)}") from None
    try:
        client.create_registered_model(name)
    except mlflow_error() as error:
        raise RegistryError(
            f"cannot create registered model {name!r}: {first_line(error)}"
        ) from None


# Promote


@dataclass(frozen=True)
class Promotion:
    """What :func:`promote` did."""

    name: str
    alias: str
    version: int
    previous: int | None
    """The version the alias pointed at before (None: it was not set)."""
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return dataclasses.asdict(self)


def promote(
    client: Any, name: str, version: int, alias: str, reason: str, now: datetime | None = None
) -> Promotion:
    """Point ``alias`` of ``name`` at ``version``, recording the reason on that version."""
    if version < 1:
        raise RegistryError(f"--version: versions start at 1, not {version}")
    if not reason.strip():
        raise RegistryError("--reason: say why this version gets the alias")
    get_version(client, name, version)
    before = version_by_alias(client, name, alias)
    previous = int(before.version) if before is not None else None
    try:
        client.set_registered_model_alias(name, alias, str(version))
    except mlflow_error() as error:
        raise RegistryError(f"alias {alias!r}: {first_line(error)}") from None
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = {"reason": reason.strip(), "promoted_at": when, "previous": str(previous or "none")}
    for what in ALIAS_TAGS:
        client.set_model_version_tag(name, str(version), f"alias.{alias}.{what}", values[what])
    return Promotion(name, alias, version, previous, reason.strip())


# List


def list_versions(client: Any, name: str) -> list[dict[str, Any]]:
    """Every version of ``name``, newest first: aliases, metrics, run, source, promotions."""
    aliases: dict[str, list[str]] = {}
    for alias, version in _registered_model(client, name).aliases.items():
        aliases.setdefault(str(version), []).append(alias)
    found = client.search_model_versions(f"name = '{_quoted(name)}'")
    described = []
    for version in sorted(found, key=lambda item: int(item.version), reverse=True):
        tags = dict(version.tags or {})
        described.append(
            {
                "version": int(version.version),
                "aliases": sorted(aliases.get(str(version.version), [])),
                "created": _time(version.creation_timestamp),
                "run_id": version.run_id,
                "source": version.source,
                "metrics": {
                    key[len(METRIC_TAG) :]: float(value)
                    for key, value in sorted(tags.items())
                    if key.startswith(METRIC_TAG)
                },
                "metrics_source": tags.get(METRICS_SOURCE_TAG, ""),
                "promotions": {
                    key[len("alias.") : -len(".reason")]: value
                    for key, value in sorted(tags.items())
                    if key.startswith("alias.") and key.endswith(".reason")
                },
            }
        )
    return described


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")


def _time(milliseconds: int | None) -> str:
    if not milliseconds:
        return ""
    moment = datetime.fromtimestamp(milliseconds / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def versions_table(versions: list[dict[str, Any]]) -> str:
    """The versions as text, one line each: version, aliases, metrics, source."""
    lines = []
    for item in versions:
        aliases = ",".join(item["aliases"]) or "-"
        metrics = _metrics_text(item["metrics"]) or "no metrics"
        lines.append(f"{item['version']:>4}  {aliases:<12} {metrics}  {item['source']}")
    return "\n".join(lines)
