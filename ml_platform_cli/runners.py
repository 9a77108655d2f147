"""``ml-platform train`` and ``ml-platform serve``: the workloads' own commands, run as they are.

Every argument (``--help`` included) goes to the entry point unchanged, so ``ml-platform train
--help`` shows the trainer's real options, and the exit status is the entry point's. The
``ml-platform-train`` and ``ml-platform-serve`` scripts stay as aliases of the same entry points.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

#: Settings for a command whose arguments all belong to the entry point it runs.
PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}

#: The entry points: ``module:function``; the ``main``\ s take ``argv``, ``command`` reads
#: ``sys.argv`` (it keeps SIGTERM handling for the whole process).
TRAIN_ENTRY_POINT = "workloads.training.entrypoint:command"
SERVE_ENTRY_POINT = "workloads.inference.server:main"


def run_entry_point(target: str, args: Sequence[str], *, program: str) -> NoReturn:
    """Run ``target`` with ``args`` as its command line and exit with its status.

    ``sys.argv`` is set to ``[program, *args]`` while it runs (entry points that read it see
    their arguments). A ``SystemExit`` from argparse (``--help``, a usage error) is its status.
    A missing library surfaces as ``ModuleNotFoundError``, which ``ml-platform`` words as one
    line naming the extra to install.
    """
    module_name, function_name = target.split(":")
    entry = getattr(importlib.import_module(module_name), function_name)
    saved = sys.argv
    sys.argv = [program, *args]
    try:
        status = entry() if function_name == "command" else entry(list(args))
    except SystemExit as exit_:
        status = _status_of(exit_)
    finally:
        sys.argv = saved
    raise click.exceptions.Exit(int(status or 0))


def _status_of(exit_: SystemExit) -> int:
    """The status a ``SystemExit`` means: None is 0, a message is printed and is 1."""
    if exit_.code is None or isinstance(exit_.code, int):
        return int(exit_.code or 0)
    print(exit_.code, file=sys.stderr)
    return 1


@click.command("train", context_settings=PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def train(args: tuple[str, ...]) -> None:
    r"""Train a model locally (all options: ml-platform train --help).

    \b
    Examples:
      ml-platform train --algorithm xgboost --dataset iris --model-dir build/model
      ml-platform train --algorithm sklearn --target churned --train data/train.csv \
          --model-dir build/model --tracking-uri sqlite:///build/mlflow.db
    """
    run_entry_point(TRAIN_ENTRY_POINT, args, program="ml-platform train")


@click.command("serve", context_settings=PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def serve(args: tuple[str, ...]) -> None:
    r"""Serve a model over SageMaker's container contract (all options: ml-platform serve --help).

    \b
    Examples:
      ml-platform serve --model-dir build/model --port 8080
      ml-platform serve --model-uri models:/churn@champion --tracking-uri sqlite:///build/mlflow.db
    """
    run_entry_point(SERVE_ENTRY_POINT, args, program="ml-platform serve")


def register(cli: click.Group) -> None:
    """Add ``train`` and ``serve`` to ``cli``."""
    cli.add_command(train)
    cli.add_command(serve)
