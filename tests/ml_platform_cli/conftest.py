"""Fixtures of the CLI's tests: one moto server for the session, emptied for each test."""

from tests.ml_platform_cli.aws_server import aws, moto_session

__all__ = ["aws", "moto_session"]
