"""``ml-platform --help`` stays light: neither Pulumi nor the ML libraries are imported."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.ml_platform_cli.cli_runner import ROOT

#: Top-level modules the help must not import (each takes seconds, or needs the other half).
HEAVY = ("pulumi", "pulumi_aws", "torch", "sklearn", "pandas", "numpy", "xgboost", "mlflow")

#: Runs the help in-process and prints which modules were loaded.
PROBE = """
import contextlib, io, json, sys
from ml_platform_cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    status = main(["--help"])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def test_help_imports_neither_pulumi_nor_ml_libraries() -> None:
    # when
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["status"] == 0
    loaded = {name.split(".")[0] for name in result["modules"]}
    assert sorted(loaded & set(HEAVY)) == []
    assert "ml_platform_cli.plan" in result["modules"]  # the commands were registered
