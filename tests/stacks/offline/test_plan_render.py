"""`make plan` with ``render_to``: the manifests are written where the config says, and said so."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stacks.offline.plan import main
from tests.conftest import stack_file


def test_an_absolute_render_folder_outside_the_project_is_written_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given dev rendering its Kubernetes manifests to a folder outside the project
    folder = tmp_path / "manifests"
    document = {"config": stack_file("dev")}
    document["config"]["ml-platform:kubernetes"]["cluster"]["render_to"] = str(folder)
    config_file = tmp_path / "Pulumi.dev.yaml"
    config_file.write_text(yaml.safe_dump(document))
    # when planned
    status = main(["--stack", "dev", "--config-file", str(config_file), "--out", str(tmp_path)])
    # then the plan succeeds, the manifests are there, and the output says they left the project
    assert status == 0
    written = sorted(folder.glob("*/*.yaml"))
    assert written
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2] == f"wrote {len(written)} Kubernetes manifests to {folder}"
    assert lines[-1] == f"note: {folder} is outside the project (an absolute render_to)"
