"""The command tree itself: help, version, completion, and one-line usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.ml_platform_cli.cli_runner import ROOT, run_cli


def test_help_lists_the_commands_and_exit_codes() -> None:
    # when
    run = run_cli("--help")
    # then
    assert run.exit_code == 0
    assert "Exit codes: 0 done, 1 failed, 2 bad usage" in " ".join(run.stdout.split())
    assert "completion" in run.stdout and "version" in run.stdout


def test_an_unknown_command_is_one_line_exit_2() -> None:
    # when
    run = run_cli("nope")
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: No such command 'nope'. (see `ml-platform --help`)\n"
    )


def test_an_unknown_option_names_the_command_to_ask_for_help() -> None:
    # when
    run = run_cli("version", "--bogus")
    # then
    assert run.exit_code == 2
    assert run.stderr == (
        "ml-platform: error: No such option '--bogus'. (see `ml-platform version --help`)\n"
    )


def test_version_prints_the_installed_version() -> None:
    # when
    run = run_cli("version")
    # then
    assert run.exit_code == 0
    assert run.stdout.strip() == "0.1.0"


def test_completion_prints_a_script_click_can_answer() -> None:
    # when
    run = run_cli("completion", "bash")
    # then
    assert run.exit_code == 0
    assert "_ML_PLATFORM_COMPLETE=bash_complete" in run.stdout
    assert "complete -o nosort -F _ml_platform_completion ml-platform" in run.stdout


@pytest.mark.parametrize(("module", "extra"), [("click", "cli"), ("rich", "cli")])
def test_a_missing_library_is_one_line_naming_the_extra(module: str, extra: str) -> None:
    # given an interpreter in which the library cannot be imported
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from ml_platform_cli.main import main\n"
        "sys.exit(main(['jobs', 'list', '--help']))\n"
    )
    # when the command runs
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    # then it exits 1 with one line naming the package and the extra that installs it
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == (
        f"ml-platform: error: the Python package '{module}' is not installed; install what the "
        f"command needs with `make install` (or `pip install -e '.[{extra}]'`)\n"
    )


def test_a_group_without_a_command_prints_its_help() -> None:
    # when a group is called alone
    run = run_cli("models")
    # then that is a question, not a mistake
    assert run.exit_code == 0
    assert run.stdout.startswith("Usage: ml-platform models [OPTIONS] COMMAND [ARGS]...")
