"""A moto server for the ``jobs`` and ``pipelines`` subprocess tests, and what they put in it.

moto's threaded server runs in the test process, so a test may also change a job's state in the
server's backend (moto creates every job already Completed) while ``ml-platform`` runs as a child.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ml_platform_cli.aws_server import AwsServer

TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"
PROCESSING_LOGS = "/aws/sagemaker/ProcessingJobs"


@dataclass(frozen=True)
class MotoServer:
    """The session's moto server (emptied for the test) and a child's environment for it."""

    server: AwsServer
    environment: dict[str, str]
    """The environment for ``run_cli``: dummy keys and AWS_ENDPOINT_URL, nothing from ~/.aws."""

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on the server."""
        return self.server.client(service)

    def sagemaker_backend(self) -> Any:
        """Moto's SageMaker state, which a test may change while the command runs."""
        return self.server.sagemaker_backend()


@pytest.fixture
def moto_server(aws: AwsServer, tmp_path: Path) -> MotoServer:
    """The moto server, emptied for this test, with the child's environment."""
    return MotoServer(aws, aws.environment(tmp_path))


def put_logs(logs: Any, group: str, stream: str, messages: list[str]) -> None:
    """``messages`` in ``stream`` of ``group`` (both created when missing), stamped now."""
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": now + index, "message": message} for index, message in enumerate(messages)
        ],
    )
