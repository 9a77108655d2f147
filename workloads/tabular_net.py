"""The PyTorch network for tabular data: an MLP rebuilt from a model's metadata.

Training builds a ``TabularNet``, records ``network_spec()`` in the model's metadata and saves its
``state_dict``; inference rebuilds the same network with ``TabularNet.from_network`` and loads the
weights with ``torch.load(..., weights_only=True)``, so no pickled code ever crosses the bucket.
This is the only module that imports torch at import time; import it only on the PyTorch path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from workloads.model_network import NETWORK_KEYS, ModelLayoutError, network_problems


class TabularNet(nn.Module):
    """Linear -> ReLU -> Dropout per hidden layer, then a linear output layer.

    Classification networks output one logit per class; regression networks one value per
    target. Dropout layers are always present (``p=0`` is a no-op) so that the ``state_dict``
    keys depend only on the layer sizes.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int],
        output_size: int,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_sizes = tuple(hidden_sizes)
        self.output_size = output_size
        self.dropout = float(dropout)
        layers: list[nn.Module] = []
        previous = input_size
        for size in self.hidden_sizes:
            layers += [nn.Linear(previous, size), nn.ReLU(), nn.Dropout(self.dropout)]
            previous = size
        layers.append(nn.Linear(previous, output_size))
        self.layers = nn.Sequential(*layers)

    @classmethod
    def from_network(cls, network: Mapping[str, Any]) -> TabularNet:
        """The network a metadata ``network`` spec describes (validated first)."""
        input_size = network.get("input_size")
        problems = network_problems(network, input_size if type(input_size) is int else -1)
        if problems:
            raise ModelLayoutError("invalid network: " + "; ".join(problems))
        return cls(
            input_size=network["input_size"],
            hidden_sizes=network["hidden_sizes"],
            output_size=network["output_size"],
            dropout=network["dropout"],
        )

    def network_spec(self) -> dict[str, Any]:
        """The metadata ``network`` that rebuilds this architecture."""
        values = (self.input_size, list(self.hidden_sizes), self.output_size, self.dropout)
        return dict(zip(NETWORK_KEYS, values, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (classification) or values (regression), one row per input row."""
        return self.layers(x)
