"""The console scripts: each reaches its entry point, or names the missing package in one line."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import ROOT
from workloads import console


def test_every_console_script_goes_through_the_launcher_to_a_real_entry_point() -> None:
    # given the project's console scripts
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    # then the one command has its own guard (ml_platform_cli.main), and each other script is a
    # launcher function named in the table, whose target exists
    assert scripts.pop("ml-platform") == "ml_platform_cli.main:main"
    assert set(scripts) == set(console.SCRIPTS)
    for script, launcher in scripts.items():
        module, function = launcher.split(":")
        assert module == "workloads.console" and callable(getattr(console, function))
        target, _ = console.SCRIPTS[script]
        target_module, target_function = target.split(":")
        assert callable(getattr(importlib.import_module(target_module), target_function))


@pytest.mark.parametrize(
    ("function", "script", "extras"),
    [
        ("serve", "ml-platform-serve", "workloads"),
        ("train", "ml-platform-train", "workloads,training"),
        ("monitor", "ml-platform-monitor", "workloads,monitoring"),
    ],
)
def test_a_missing_library_is_one_line_naming_it_and_the_install(
    function: str, script: str, extras: str
) -> None:
    # given an interpreter in which numpy cannot be imported (as after `pulumi install`)
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        f"from workloads.console import {function}\n"
        f"sys.exit({function}())\n"
    )
    # when the script's launcher runs
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    # then it exits 1 with one line naming the package and how to install it
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == (
        f"{script}: the Python package 'numpy' is not installed; install what the command needs "
        f"with `make install` (or `pip install -e '.[{extras}]'`)\n"
    )


def test_with_its_libraries_the_launcher_runs_the_command() -> None:
    # when ml-platform-monitor's launcher runs with --help
    code = "import sys; sys.argv = ['ml-platform-monitor', '--help']\n"
    code += "from workloads.console import monitor\nsys.exit(monitor())\n"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    # then it is the monitor's own help
    assert run.returncode == 0
    assert run.stdout.startswith("usage: ml-platform-monitor")
