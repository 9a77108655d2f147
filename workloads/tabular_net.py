"""The PyTorch network for tabular data: an MLP rebuilt from a model's metadata.

Training builds a ``TabularNet``, records ``network_spec()`` in the model's metadata and saves its
``state_dict``; inference rebuilds the same network with ``TabularNet.from_network`` and loads the
weights with ``torch.load(..., weights_only=True)``, so no pickled code ever crosses the bucket.
This is the only module that imports torch at import time; import it only on the PyTorch path.

A network built with ``standardize=True`` standardizes its inputs in ``forward``
(:func:`standardize`, with the training channel's mean and scale held as buffers, so they are saved
in the ``state_dict`` beside the weights): training, validation and serving go through the same
code. Networks saved before this existed have no such buffers and take their inputs as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from workloads.model_network import NETWORK_KEYS, ModelLayoutError, network_problems


def standardize(x: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / scale``, column by column: the one standardization of a network's inputs."""
    return (x - mean) / scale


def standardization(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-column mean and scale (standard deviation) of training rows ``x``.

    A constant column (standard deviation 0, e.g. a category every row has or none has) gets
    scale 1, so it becomes 0 instead of a division by zero.
    """
    x = x.double()
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False) if len(x) else torch.zeros_like(mean)
    scale = torch.where(std > 1e-12, std, torch.ones_like(std))
    return mean.float(), scale.float()


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
        standardize: bool = False,
    ) -> None:
        super().__init__()
        self.standardize = standardize
        if standardize:
            # Buffers, not parameters: saved and loaded with the weights, never trained.
            self.register_buffer("input_mean", torch.zeros(input_size))
            self.register_buffer("input_scale", torch.ones(input_size))
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
            standardize=network.get("standardize", False),
        )

    def fit_standardization(self, x: torch.Tensor) -> None:
        """Set the input mean and scale from training rows ``x`` (:func:`standardization`)."""
        if not self.standardize:
            raise ValueError("this network was built without standardize=True")
        mean, scale = standardization(x)
        self.input_mean.copy_(mean)
        self.input_scale.copy_(scale)

    def network_spec(self) -> dict[str, Any]:
        """The metadata ``network`` that rebuilds this architecture."""
        values = (self.input_size, list(self.hidden_sizes), self.output_size, self.dropout)
        spec: dict[str, Any] = dict(zip(NETWORK_KEYS, values, strict=True))
        if self.standardize:
            spec["standardize"] = True
        return spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (classification) or values (regression), one row per input row."""
        if self.standardize:
            x = standardize(x, self.input_mean, self.input_scale)
        return self.layers(x)
