"""The monitoring page's examples write only under build/ and run on the shipped sample."""

from __future__ import annotations

import re
from pathlib import Path

from workloads.monitoring.cli import main as monitor

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs/monitoring.md"


def test_no_example_writes_into_a_tracked_path() -> None:
    # given every --out of the monitoring page's commands
    outs = re.findall(r"--out\s+([\w.-]+/[\w./-]*)", PAGE.read_text())
    # then each one is under build/ (ignored by git): never baselines/ or another tracked folder
    assert outs
    assert [out for out in outs if not out.startswith("build/")] == []


def test_the_baseline_example_without_a_model_runs_on_the_sample(tmp_path: Path) -> None:
    # given the page's baseline command without a model
    text = PAGE.read_text().replace("\\\n", " ")
    (command,) = [
        line for line in text.splitlines() if "baseline --data" in line and "--exclude" in line
    ]
    arguments = command.split("ml-platform-monitor", 1)[1].split()
    out = arguments.index("--out") + 1
    assert arguments[out] == "build/baselines/churn-features"
    arguments[out] = str(tmp_path / arguments[out])
    arguments[arguments.index("--data") + 1] = str(ROOT / arguments[arguments.index("--data") + 1])
    # when run (its --out moved into a scratch folder), then it writes the baseline
    assert monitor(arguments) == 0
    assert sorted(p.name for p in (tmp_path / "build/baselines/churn-features").iterdir()) == [
        "baseline.npz",
        "constraints.json",
        "statistics.json",
    ]
