"""Reading a baseline folder's description without numpy (standard library only).

The stack's config checks each monitored endpoint's baseline folder with
:func:`baseline_problems` before anything is uploaded, and :func:`baseline_features` tells the
platform which features and types the baseline holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from workloads.monitoring.contract import (
    BASELINE_FILES,
    CONSTRAINTS_FILE,
    PREDICTION_FEATURE,
    STATISTICS_FILE,
)

#: Model Monitor's inferred types.
INFERRED_TYPES = ("Integral", "Fractional", "String", "Unknown")


@dataclass(frozen=True)
class BaselineFeature:
    """One feature of a baseline, as its constraints.json lists it."""

    name: str
    """The feature (column) name; ``prediction`` is the endpoint's output."""
    inferred_type: str
    """Integral, Fractional, String or Unknown."""

    @property
    def numeric(self) -> bool:
        """Whether the feature is compared as numbers (KS, PSI) rather than categories (JS)."""
        return self.inferred_type in ("Integral", "Fractional")


class BaselineError(ValueError):
    """A baseline folder that cannot serve a check; the message names the file and the problem."""


def baseline_features(folder: Path) -> list[BaselineFeature]:
    """The features of the baseline in ``folder``, in the order the endpoint receives them.

    Raises:
        BaselineError: naming each problem with the folder's files.

    """
    problems = baseline_problems(folder)
    if problems:
        raise BaselineError(f"baseline {folder}: " + "; ".join(problems))
    constraints = json.loads((folder / CONSTRAINTS_FILE).read_text(encoding="utf-8"))
    return [
        BaselineFeature(name=entry["name"], inferred_type=entry["inferred_type"])
        for entry in constraints["features"]
    ]


def baseline_problems(folder: Path) -> list[str]:
    """Everything wrong with the baseline folder ``folder`` (empty when it can serve a check)."""
    if not folder.is_dir():
        return [f"{folder} is not a folder (create it with `ml-platform-monitor baseline`)"]
    missing = [name for name in BASELINE_FILES if not (folder / name).is_file()]
    if missing:
        return [f"missing {', '.join(missing)} (create them with `ml-platform-monitor baseline`)"]
    documents = {}
    problems = []
    for name in (CONSTRAINTS_FILE, STATISTICS_FILE):
        try:
            documents[name] = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            # ValueError covers JSONDecodeError, UnicodeDecodeError and Python's refusal of
            # integers over 4,300 digits.
            problems.append(f"{name} is not valid JSON: {str(error)[:300]}")
        except RecursionError:
            problems.append(f"{name} is not valid JSON: nested too deep to read")
    if problems:
        return problems
    names: dict[str, list[str]] = {}
    for name, document in documents.items():
        features = document.get("features") if isinstance(document, dict) else None
        if not isinstance(features, list) or not features:
            problems.append(f"{name} has no 'features' list")
            continue
        names[name] = []
        for index, entry in enumerate(features):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                problems.append(f"{name}: features[{index}] has no name")
                continue
            if entry.get("inferred_type") not in INFERRED_TYPES:
                problems.append(
                    f"{name}: feature '{entry['name']}' has inferred_type "
                    f"{entry.get('inferred_type')!r} (expected one of {', '.join(INFERRED_TYPES)})"
                )
            names[name].append(entry["name"])
    if len(names) == 2 and names[CONSTRAINTS_FILE] != names[STATISTICS_FILE]:
        problems.append(f"{CONSTRAINTS_FILE} and {STATISTICS_FILE} list different features")
    inputs = [name for name in names.get(CONSTRAINTS_FILE, []) if name != PREDICTION_FEATURE]
    if names.get(CONSTRAINTS_FILE) is not None and not inputs:
        problems.append(f"{CONSTRAINTS_FILE} lists no input feature")
    return problems
