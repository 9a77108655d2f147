"""Where everything of a local platform lives under its folder, and which port serves what.

One module holds every path and port rule, so the supervisor, the drift check and the CLI agree
without passing paths around. Nothing happens at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = ".ml-platform"
"""The state folder when ``--dir`` is not given (relative to the current directory)."""
DEFAULT_PORT_BASE = 5300
"""``--port-base``: the status page's port; MLflow and the inference server take the next two."""
DEFAULT_MODEL = "churn"
"""The registered model the platform serves (``models:/<model>@champion``)."""
CHAMPION_ALIAS = "champion"
"""The alias the inference server follows."""
HOST = "127.0.0.1"
"""Every server of the local platform listens on this address only."""
#: Offsets from ``--port-base``, in the order the processes are listed.
PORT_OFFSETS = {"status": 0, "mlflow": 1, "inference": 2}
#: What each port is called in messages.
PORT_ROLES = {"status": "status page", "mlflow": "MLflow", "inference": "inference server"}


def ports_of(port_base: int) -> dict[str, int]:
    """The port of each server for ``--port-base`` (status: N, MLflow: N+1, inference: N+2)."""
    return {name: port_base + offset for name, offset in PORT_OFFSETS.items()}


def url(port: int, path: str = "/") -> str:
    """``http://127.0.0.1:<port><path>``."""
    return f"http://{HOST}:{port}{path}"


@dataclass(frozen=True)
class Layout:
    """The files and folders of one local platform, all under :attr:`root`."""

    root: Path
    """The state folder (``--dir``), absolute."""

    @classmethod
    def at(cls, directory: str | Path) -> Layout:
        """The layout of ``directory`` (made absolute: children run with another cwd)."""
        return cls(Path(directory).expanduser().resolve())

    @property
    def state_file(self) -> Path:
        """What runs where, written by the supervisor (JSON)."""
        return self.root / "state.json"

    @property
    def pid_file(self) -> Path:
        """The supervisor's pid."""
        return self.root / "supervisor.pid"

    @property
    def logs(self) -> Path:
        """One log file per process: ``<name>.log``."""
        return self.root / "logs"

    def log_file(self, name: str) -> Path:
        """The log of process ``name`` (appended to across restarts)."""
        return self.logs / f"{name}.log"

    @property
    def mlflow(self) -> Path:
        """MLflow's SQLite store and artifact folder."""
        return self.root / "mlflow"

    @property
    def mlflow_database(self) -> Path:
        """The SQLite file of MLflow's tracking and registry store."""
        return self.mlflow / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        """Where MLflow's server keeps artifacts (``--artifacts-destination``)."""
        return self.mlflow / "artifacts"

    def capture(self, model: str) -> Path:
        """The data capture of ``model``'s endpoint (SageMaker's format)."""
        return self.root / "capture" / model

    @property
    def bootstrap(self) -> Path:
        """The bootstrap's model directory and training output."""
        return self.root / "bootstrap"

    @property
    def baseline(self) -> Path:
        """The drift baseline (``statistics.json``, ``constraints.json``, ``baseline.npz``)."""
        return self.root / "baseline"

    @property
    def drift(self) -> Path:
        """The latest drift check's results: ``report.html``, ``summary.json``, ``metrics.json``."""
        return self.root / "drift"

    @property
    def drift_lock(self) -> Path:
        """Held while a drift check writes, so a scheduled and a manual check do not interleave."""
        return self.root / "drift.lock"

    @property
    def prometheus_config(self) -> Path:
        """The scrape configuration of every ``/metrics`` endpoint."""
        return self.root / "prometheus.yml"

    @property
    def grafana(self) -> Path:
        """Grafana dashboards copied from the project (when it ships them)."""
        return self.root / "grafana"
