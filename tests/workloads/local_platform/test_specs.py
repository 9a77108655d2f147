"""The children's command lines and the port check."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from workloads.local_platform.layout import Layout, ports_of
from workloads.local_platform.specs import (
    PortTaken,
    check_ports_free,
    inference_spec,
    mlflow_spec,
    port_available,
)


def test_the_port_base_gives_the_status_page_mlflow_and_the_server() -> None:
    assert ports_of(5300) == {"status": 5300, "mlflow": 5301, "inference": 5302}


def test_a_taken_port_is_named_with_the_option_to_change_it() -> None:
    # given: something listens on the second port of the range
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        base = taken - 1
        # when / then
        with pytest.raises(PortTaken) as raised:
            check_ports_free({"status": base, "mlflow": taken, "inference": taken + 1}, base)
    assert str(raised.value) == (
        f"port {taken} (MLflow) is already in use on 127.0.0.1; choose other ports with "
        f"--port-base (the platform uses {base}-{taken + 1}, from --port-base {base})"
    )


def test_a_free_port_is_available() -> None:
    # given: a port the kernel just handed out and that nothing holds any more
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # then
    assert port_available(port)
    assert not port_available(0)
    assert not port_available(70000)


def test_mlflow_keeps_its_store_and_artifacts_in_the_state_folder(tmp_path: Path) -> None:
    # given
    layout = Layout.at(tmp_path)
    # when
    spec = mlflow_spec(layout, 5301)
    # then
    argv = " ".join(spec.argv)
    assert f"--backend-store-uri sqlite:///{tmp_path}/mlflow/mlflow.db" in argv
    assert f"--artifacts-destination {tmp_path}/mlflow/artifacts" in argv
    assert "--host 127.0.0.1 --port 5301" in argv
    assert spec.health_url == "http://127.0.0.1:5301/health"


def test_the_server_follows_the_champion_and_captures_into_the_state_folder(
    tmp_path: Path,
) -> None:
    # given
    layout = Layout.at(tmp_path)
    # when
    spec = inference_spec(layout, "churn", 5302, "http://127.0.0.1:5301")
    # then
    argv = " ".join(spec.argv)
    assert "-m workloads.inference.server --model-uri models:/churn@champion" in argv
    assert "--tracking-uri http://127.0.0.1:5301" in argv
    assert f"--capture-dir {tmp_path}/capture/churn" in argv
    assert "--host 127.0.0.1 --port 5302" in argv
    assert spec.health_url == "http://127.0.0.1:5302/ping"
