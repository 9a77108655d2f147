"""Where the inference server gets its model when it is given an MLflow URI instead of a directory.

``models:/NAME@ALIAS`` (the version an alias points at, followed when the alias moves),
``models:/NAME/VERSION`` and ``runs:/RUN_ID/PATH`` are resolved through the MLflow tracking store
and downloaded into a local cache as the model directory they are (``workloads/model_layout.py``):
a version registered with ``ml-platform-lifecycle register`` is the directory the trainer wrote.
Anything else at the URI (an MLflow-flavor model without ``metadata.json``) is refused with a
one-line :class:`~workloads.lifecycle.registry.RegistryError`.

:meth:`ModelSource.resolve` is cheap (one or two registry reads) and says which artifact the URI
names now; :meth:`ModelSource.fetch` downloads it once. The server polls ``resolve`` and fetches
only when the answer changes. Both block: call them off the event loop.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workloads.lifecycle.registry import (
    RegistryError,
    first_line,
    get_version,
    mlflow_error,
    open_registry,
    version_by_alias,
)
from workloads.model_layout import METADATA_FILE

_MODELS = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>[1-9][0-9]*))")
_RUNS = re.compile(r"runs:/(?P<run_id>[0-9A-Za-z_-]+)/(?P<path>[^?#]+)")
URI_FORMS = "models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/PATH"
"""The URIs a model source accepts, as error messages name them."""


def is_model_uri(text: str) -> bool:
    """Whether ``text`` is an MLflow URI (``models:/`` or ``runs:/``) rather than a path."""
    return text.startswith(("models:/", "runs:/"))


@dataclass(frozen=True)
class ModelUri:
    """A parsed model URI: a registered model's alias or version, or a run's artifact path."""

    text: str
    name: str = ""
    alias: str = ""
    version: int = 0
    run_id: str = ""
    path: str = ""

    @property
    def follows_alias(self) -> bool:
        """Whether the artifact it names can change (an alias can be moved)."""
        return bool(self.alias)


def parse_model_uri(text: str) -> ModelUri:
    """``text`` parsed; a :class:`RegistryError` naming the accepted forms otherwise."""
    if matched := _MODELS.fullmatch(text):
        return ModelUri(
            text,
            name=matched["name"],
            alias=matched["alias"] or "",
            version=int(matched["version"] or 0),
        )
    if matched := _RUNS.fullmatch(text):
        return ModelUri(text, run_id=matched["run_id"], path=matched["path"].strip("/"))
    raise RegistryError(f"--model-uri {text!r}: expected {URI_FORMS}")


@dataclass(frozen=True)
class Resolved:
    """The artifact a model URI names at one moment."""

    key: str
    """What identifies it: ``NAME/VERSION`` or ``runs/RUN_ID/PATH`` (equal keys: same artifact)."""
    label: str
    """How logs name it: ``models:/churn@champion (version 3)``."""
    artifact_uri: str
    """Where MLflow downloads it from (a version's download URI, or the run URI itself)."""


class ModelSource:
    """A model URI on one tracking store, with a download cache."""

    def __init__(self, uri: ModelUri, tracking_uri: str, cache_dir: Path) -> None:
        self.uri = uri
        self.tracking_uri = tracking_uri
        self.cache_dir = cache_dir
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The MLflow client (made on first use, so mlflow is imported off the event loop)."""
        if self._client is None:
            self._client = open_registry(self.tracking_uri)
        return self._client

    def resolve(self) -> Resolved:
        """Which artifact the URI names now."""
        uri, client = self.uri, self.client
        if uri.run_id:
            try:
                client.get_run(uri.run_id)
            except mlflow_error() as error:
                raise RegistryError(f"{uri.text}: {first_line(error)}") from None
            return Resolved(f"runs/{uri.run_id}/{uri.path}", uri.text, uri.text)
        try:
            if uri.alias:
                found = version_by_alias(client, uri.name, uri.alias)
                if found is None:
                    raise RegistryError(f"model {uri.name!r} has no alias {uri.alias!r}")
            else:
                found = get_version(client, uri.name, uri.version)
        except RegistryError as error:
            raise RegistryError(f"{uri.text}: {error}") from None
        version = int(found.version)
        label = f"{uri.text} (version {version})" if uri.alias else uri.text
        download = client.get_model_version_download_uri(uri.name, str(version))
        return Resolved(f"{uri.name}/{version}", label, download)

    def fetch(self, resolved: Resolved) -> Path:
        """The artifact as a local model directory, downloaded on first use."""
        target = self.cache_dir / resolved.key
        if (target / METADATA_FILE).is_file():
            return target
        from mlflow.artifacts import download_artifacts

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="download-", dir=self.cache_dir))
        try:
            try:
                local = Path(
                    download_artifacts(
                        artifact_uri=resolved.artifact_uri,
                        dst_path=str(scratch),
                        tracking_uri=self.tracking_uri,
                    )
                )
            except mlflow_error() as error:
                raise RegistryError(f"{resolved.label}: {first_line(error)}") from None
            if not (local / METADATA_FILE).is_file():
                raise RegistryError(
                    f"{resolved.label}: {resolved.artifact_uri} is not a model directory (no "
                    f"{METADATA_FILE}); register the directory the trainer wrote with "
                    "ml-platform-lifecycle register"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            local.rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return target
