"""Placeholder while the command group is being written."""

import click


def register(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
