"""The ``network`` entry of a PyTorch model's metadata: its keys and its checks.

``model_layout`` validates a model's metadata with these and ``tabular_net`` builds a network from
them; keeping them here lets ``tabular_net`` check a spec without importing ``model_layout``, which
imports ``tabular_net`` (lazily, to keep torch off the other frameworks' paths). The layout's error,
``ModelLayoutError``, lives here for the same reason (``model_layout`` re-exports it). Standard
library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NETWORK_KEYS = ("input_size", "hidden_sizes", "output_size", "dropout")
"""The keys of a PyTorch model's ``network`` (what ``workloads.tabular_net.TabularNet`` needs)."""
OPTIONAL_NETWORK_KEYS = ("standardize",)
"""Keys a ``network`` may have: ``standardize`` (true: the network standardizes its inputs with
the mean and scale saved in its ``state_dict``; absent in models saved before it existed)."""


class ModelLayoutError(ValueError):
    """A model directory, its metadata or a model does not follow the layout."""


def _problem(field_name: str, message: str) -> str:
    return f"{field_name}: {message}"


def network_problems(
    network: Mapping[str, Any], n_features: int, counted: str = "feature_names"
) -> list[str]:
    """Every problem with a PyTorch ``network`` spec, each naming its key (empty when valid).

    ``n_features`` is the network's expected input width, ``counted`` what it counts (the
    ``feature_names``, or the encoded ``inputs`` when some feature is one-hot encoded).
    """
    problems = []
    unknown = sorted(set(network) - set(NETWORK_KEYS) - set(OPTIONAL_NETWORK_KEYS))
    missing = [key for key in NETWORK_KEYS if key not in network]
    if unknown:
        problems.append(_problem("network", f"unknown keys {unknown}; allowed: {NETWORK_KEYS}"))
    if missing:
        problems.append(_problem("network", f"missing keys {missing}"))
    for key in ("input_size", "output_size"):
        value = network.get(key)
        if key in network and (type(value) is not int or value < 1):
            problems.append(_problem(f"network.{key}", f"must be an integer >= 1, not {value!r}"))
    if network.get("input_size") not in (None, n_features) and type(network["input_size"]) is int:
        problems.append(
            _problem(
                "network.input_size",
                f"is {network['input_size']} but there are {n_features} {counted}",
            )
        )
    hidden = network.get("hidden_sizes")
    if "hidden_sizes" in network and (
        not isinstance(hidden, list | tuple)
        or not all(type(size) is int and size > 0 for size in hidden)
    ):
        problems.append(
            _problem("network.hidden_sizes", f"must be a list of positive integers, not {hidden!r}")
        )
    if "standardize" in network and type(network["standardize"]) is not bool:
        problems.append(_problem("network.standardize", "must be true or false"))
    dropout = network.get("dropout")
    if "dropout" in network and (
        type(dropout) not in (int, float) or not 0.0 <= float(dropout) < 1.0
    ):
        problems.append(_problem("network.dropout", f"must be a number in [0, 1), not {dropout!r}"))
    return problems
