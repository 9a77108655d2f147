"""The PyTorch tabular network's input standardization: one function for training and serving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from workloads.model_layout import ModelLayoutError, load_model, save_model
from workloads.tabular_net import TabularNet, standardization


def test_standardization_is_the_columns_mean_and_std_and_a_constant_column_gets_scale_1() -> None:
    # given training rows with a varying and a constant column
    x = torch.tensor([[1.0, 5.0], [3.0, 5.0]])
    # when the standardization is computed
    mean, scale = standardization(x)
    # then the constant column is scaled by 1 (it becomes 0, not NaN)
    assert mean.tolist() == [2.0, 5.0]
    assert scale.tolist() == [1.0, 1.0]
    net = TabularNet(2, [3], 2, standardize=True)
    net.fit_standardization(torch.tensor([[0.0, 5.0], [4.0, 5.0]]))
    assert net.input_scale.tolist() == [2.0, 1.0]
    assert torch.isfinite(net(torch.tensor([[9.0, 5.0]]))).all()


def test_a_standardizing_network_saves_its_scaling_and_serves_what_it_trained_with(
    tmp_path: Path,
) -> None:
    # given a network fitted to rows far from 0 with large spread
    torch.manual_seed(0)
    rows = np.array([[1000.0, 0.5], [3000.0, 0.7], [2000.0, 0.6]], dtype=np.float32)
    net = TabularNet(2, [4], 2, standardize=True)
    net.fit_standardization(torch.from_numpy(rows))
    net.eval()
    with torch.inference_mode():
        expected = net(torch.from_numpy(rows)).softmax(dim=1).numpy()
    # when saved and loaded the way serving loads it
    metadata = save_model(
        tmp_path, net, {"feature_names": ["a", "b"], "task": "classification", "classes": [0, 1]}
    )
    model = load_model(tmp_path)
    # then the metadata says so, and the loaded network standardizes with the saved scaling
    assert metadata.network["standardize"] is True
    assert model.net.input_mean.tolist() == pytest.approx([2000.0, 0.6])  # type: ignore[attr-defined]
    np.testing.assert_allclose(model.predict_proba(rows), expected, rtol=1e-6)


def test_a_network_saved_before_standardization_loads_without_it(tmp_path: Path) -> None:
    # given a network spec and weights without the standardize key or buffers (an old model)
    net = TabularNet(2, [3], 2)
    metadata = save_model(tmp_path, net, {"feature_names": ["a", "b"], "task": "classification"})
    # when loaded, then it takes its inputs as they are
    assert "standardize" not in metadata.network
    assert load_model(tmp_path).net.standardize is False  # type: ignore[attr-defined]


def test_a_bad_standardize_value_is_named() -> None:
    # given a network spec whose standardize is not a boolean, then building it says so
    with pytest.raises(ModelLayoutError) as raised:
        TabularNet.from_network(
            {"input_size": 2, "hidden_sizes": [], "output_size": 1, "dropout": 0, "standardize": 1}
        )
    assert str(raised.value) == "invalid network: network.standardize: must be true or false"
