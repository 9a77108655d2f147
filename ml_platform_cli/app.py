"""The ``ml-platform`` command tree: one click group, each command group added by its own module.

Each module in :data:`COMMAND_MODULES` has ``register(cli)``, which adds its commands or its
group; their imports of the heavy halves (``stacks``, ``workloads``) stay inside the commands so
``ml-platform --help`` starts fast and works with either half installed.

click rather than typer: typer 0.26+ vendors click privately, so its usage errors could only be
caught (and printed as one line) through a private module.
"""

from __future__ import annotations

import importlib
import re

import click

#: The modules that add commands, in the order they are registered.
COMMAND_MODULES = (
    "ml_platform_cli.plan",
    "ml_platform_cli.runners",
    "ml_platform_cli.monitor",
    "ml_platform_cli.features",
    "ml_platform_cli.models",
    "ml_platform_cli.endpoints",
    "ml_platform_cli.pipelines",
    "ml_platform_cli.jobs",
    "ml_platform_cli.local",
    "ml_platform_cli.optimize",
)

#: The shells ``ml-platform completion`` writes a script for (click's own completion).
COMPLETION_SHELLS = ("bash", "zsh", "fish")


@click.group(
    name="ml-platform",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
def cli() -> None:
    r"""The machine-learning platform's one command.

    Plan the stacks offline, train, serve, monitor, work with features and registered models,
    operate deployed endpoints, pipelines and jobs, and run the whole platform on this machine.
    Exit codes: 0 done, 1 failed, 2 bad usage, 3 a check found something, 130 interrupted.

    \b
    Examples:
      ml-platform plan --stack dev --diff
      ml-platform local up
      ml-platform endpoints status churn --stack dev --json
      eval "$(ml-platform completion bash)"
    """


@cli.command("version")
def version() -> None:
    """Print the installed ml-platform version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        click.echo(installed("ml-platform"))
    except PackageNotFoundError:
        click.echo("unknown (ml-platform is not installed; run `make install`)")


@cli.command("completion")
@click.argument("shell", type=click.Choice(COMPLETION_SHELLS))
def completion(shell: str) -> None:
    r"""Print the shell completion script for SHELL.

    \b
    Examples:
      eval "$(ml-platform completion bash)"      # in ~/.bashrc
      eval "$(ml-platform completion zsh)"       # in ~/.zshrc
      ml-platform completion fish > ~/.config/fish/completions/ml-platform.fish
    """
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # every COMPLETION_SHELLS entry is one of click's
    script = completer(cli, {}, "ml-platform", "_ML_PLATFORM_COMPLETE").source()
    click.echo(script)


def build_command() -> click.Group:
    """The ``ml-platform`` group with every command module registered (once)."""
    if not getattr(cli, "_registered", False):
        for module_name in COMMAND_MODULES:
            importlib.import_module(module_name).register(cli)
        _keep_example_blocks(cli)
        cli._registered = True  # type: ignore[attr-defined]
    return cli


def _keep_example_blocks(command: click.Command) -> None:
    r"""Make each ``\b`` line of ``command``'s help (and its subcommands') the marker click reads.

    click leaves a paragraph unwrapped when a line holding only the backspace character precedes
    it; the docstrings are raw (ruff D301), so theirs is the two characters backslash and b.
    """
    if command.help:
        command.help = re.sub(r"(?m)^(\s*)\\b$", "\\1\b", command.help)
    for subcommand in getattr(command, "commands", {}).values():
        _keep_example_blocks(subcommand)
