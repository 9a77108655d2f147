"""The incumbent's checkpoints: written atomically, verified on load, the newest valid one wins.

A spot instance may be reclaimed at any moment (see :mod:`workloads.optimization.spot`). The
run keeps its incumbent in ``<checkpoint dir>`` through the training code's
:class:`~workloads.training.checkpoints.CheckpointStore`: one JSON file per save, written to a
temporary file, fsynced, renamed into place, its sha256 in its name. The step in the name is the
run's clock in milliseconds (a resumed run continues the interrupted run's clock), so the newest
checkpoint is also the one with the highest step.

A payload holds the problem kind, the problem's fingerprint (the sha256 of its canonical JSON),
the seconds spent so far and the incumbent (:meth:`SolveResult.to_dict`). A reader skips, with a
one-line note, a file whose bytes do not match its digest, that is not JSON of this format, or
that belongs to another problem, and falls back to the next older one.

:class:`CheckpointWriter` rate-limits the saves: an improvement is saved at once unless the last
save is less than ``interval`` seconds old (then at the next tick), the incumbent is saved again
every ``interval`` seconds to keep the clock, and the final save on exit is never skipped.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workloads.optimization.results import Improvement, SolveResult, SolveStatus, StopReason
from workloads.training.checkpoints import CheckpointStore, sha256_of

FORMAT = "ml-platform-optimization-checkpoint/1"
"""The payload's ``format`` field: a file without it is not one of ours."""
SUFFIX = ".json"
"""Every checkpoint file's name ends with it (they are plain JSON, readable by hand)."""
DEFAULT_INTERVAL_SECONDS = 5.0
"""At most one save per this many seconds (the last one on exit excepted)."""
KEEP = 2
"""Checkpoints kept after a save: one damaged after its save still leaves one to fall back to."""


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses, pydantic models, enums, paths, sets, tuples."""
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(item) for item in value), key=repr)
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "to_dict"):
        return _plain(value.to_dict())
    return repr(value)


def canonical_json(problem: Any) -> str:
    """The problem as canonical JSON: sorted keys, no spaces (the fingerprint's input).

    Works on whatever a kind's ``load`` returns: a dataclass, a pydantic model, an object with
    ``to_dict()``, or plain data.
    """
    return json.dumps(_plain(problem), sort_keys=True, separators=(",", ":"), allow_nan=True)


def fingerprint(problem: Any) -> str:
    """The sha256 of the problem's canonical JSON: a checkpoint of another problem differs."""
    return hashlib.sha256(canonical_json(problem).encode("utf-8")).hexdigest()


def result_from_dict(data: dict[str, Any]) -> SolveResult:
    """The :class:`SolveResult` that :meth:`SolveResult.to_dict` wrote (``ValueError`` if bad)."""
    try:
        return SolveResult(
            problem=str(data["problem"]),
            name=str(data["name"]),
            status=SolveStatus(data["status"]),
            stop_reason=StopReason(data["stop_reason"]),
            objective=None if data.get("objective") is None else float(data["objective"]),
            bound=None if data.get("bound") is None else float(data["bound"]),
            elapsed_seconds=float(data.get("elapsed_seconds") or 0.0),
            history=[Improvement(float(s), float(o)) for s, o in data.get("history") or []],
            solution=dict(data.get("solution") or {}),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a solve result ({type(error).__name__}: {error})") from None


def has_solution(result: SolveResult) -> bool:
    """Whether ``result`` carries a solution (an objective and a feasible or optimal status)."""
    return result.objective is not None and result.status in (
        SolveStatus.OPTIMAL,
        SolveStatus.FEASIBLE,
    )


@dataclass(frozen=True)
class Checkpoint:
    """One loaded, verified checkpoint."""

    path: Path
    """The file it came from."""
    elapsed_seconds: float
    """The run's clock when it was saved (a resumed run continues from here)."""
    result: SolveResult
    """The incumbent then (``status`` no_solution when there was none yet)."""


class CheckpointFolder:
    """The checkpoints of one problem in one directory."""

    def __init__(self, directory: Path, kind: str, problem_fingerprint: str) -> None:
        self.directory = Path(directory)
        self.kind = kind
        self.fingerprint = problem_fingerprint
        self.store = CheckpointStore(self.directory, keep=KEEP, suffix=SUFFIX)

    def save(self, result: SolveResult, elapsed_seconds: float) -> Path:
        """Save ``result`` as of ``elapsed_seconds`` on the run's clock; returns the file."""
        payload = {
            "format": FORMAT,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "elapsed_seconds": elapsed_seconds,
            "result": result.to_dict(),
        }
        text = json.dumps(payload, sort_keys=True) + "\n"
        step = max(0, int(elapsed_seconds * 1000))
        return self.store.save(step, lambda path: path.write_text(text, encoding="utf-8"))

    def _load(self, path: Path) -> Checkpoint:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"not JSON ({error})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        if payload.get("kind") != self.kind or payload.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"it is for another problem ({payload.get('kind')} "
                f"{str(payload.get('fingerprint'))[:12]}, this one is {self.kind} "
                f"{self.fingerprint[:12]})"
            )
        result = result_from_dict(payload.get("result") or {})
        elapsed = float(payload.get("elapsed_seconds") or 0.0)
        return Checkpoint(path=path, elapsed_seconds=max(0.0, elapsed), result=result)

    def newest(self, note: Callable[[str], None]) -> Checkpoint | None:
        """The newest checkpoint that verifies and is this problem's, else None.

        Every file skipped on the way gets one line through ``note`` naming it and why.
        """
        for candidate in reversed(self.store.checkpoints()):
            name = candidate.path.name
            try:
                if sha256_of(candidate.path) != candidate.sha256:
                    note(f"skipping checkpoint {name}: its bytes do not match its sha256")
                    continue
                return self._load(candidate.path)
            except (OSError, ValueError) as error:
                note(f"skipping checkpoint {name}: {error}")
        return None


class CheckpointWriter:
    """Saves the incumbent at improvements (rate-limited), periodically, and last on exit.

    ``offer`` may be called from the solver's thread; ``tick`` and ``final`` from the thread
    that owns the run (all file writes happen there). ``clock`` returns the run's clock (the
    seconds since the first run started).
    """

    def __init__(
        self,
        folder: CheckpointFolder,
        clock: Callable[[], float],
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = folder
        self.clock = clock
        self.interval_seconds = interval_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._incumbent: SolveResult | None = None
        self._pending = False
        self._last_save: float | None = None
        self.saves = 0
        """How many files were written (tests and the log read it)."""

    def offer(self, result: SolveResult) -> None:
        """Record a new incumbent; it is saved at the next :meth:`tick` the rate allows."""
        with self._lock:
            self._incumbent = result
            self._pending = True

    def tick(self) -> Path | None:
        """Save if an improvement waits or the periodic save is due, and the rate allows it."""
        now = self._monotonic()
        with self._lock:
            due = self._last_save is None or now - self._last_save >= self.interval_seconds
            if not due or self._incumbent is None:
                return None
            if not self._pending and self._last_save is None:
                return None
            incumbent = self._incumbent
            self._pending = False
        return self._save(incumbent, now)

    def final(self, result: SolveResult) -> Path:
        """Save ``result`` whatever the rate: the last checkpoint of the run."""
        with self._lock:
            self._incumbent = result
            self._pending = False
        return self._save(result, self._monotonic())

    def _save(self, result: SolveResult, now: float) -> Path:
        path = self.folder.save(result, max(result.elapsed_seconds, self.clock()))
        self._last_save = now
        self.saves += 1
        return path
