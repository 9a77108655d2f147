r"""Data capture for the local server, in the JSON Lines format SageMaker endpoints write.

With ``ml-platform-serve --capture-dir DIR`` every answered invocation (or a sampled share of
them, ``--capture-percent``) becomes one line, as SageMaker's data capture writes it::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "1.5,2", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "application/json",
                                        "mode": "OUTPUT", "data": "{\\"predictions\\": [0]}",
                                        "encoding": "JSON"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2026-12-07T10:00:01Z"},
     "eventVersion": "0"}

CSV and JSON bodies are kept as text, anything else (NPY, or bytes that are not UTF-8) as
BASE64. Files go in hour folders as on S3, ``DIR/yyyy/mm/dd/hh/<mm-ss-mmm>-<id>.jsonl`` (UTC),
a new file each hour; every line is flushed as written, so ``ml-platform-monitor check --capture
DIR`` reads all the traffic so far while the server still runs.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

_TEXT_ENCODINGS = {"text/csv": "CSV", "application/json": "JSON"}


def _payload(body: bytes, media_type: str, mode: str) -> dict[str, str]:
    encoding = _TEXT_ENCODINGS.get(media_type, "BASE64")
    if encoding != "BASE64":
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if encoding == "BASE64":
        data = base64.b64encode(body).decode("ascii")
    return {"observedContentType": media_type, "mode": mode, "data": data, "encoding": encoding}


def capture_line(
    request: bytes, request_type: str, response: bytes, response_type: str, when: datetime
) -> str:
    """One invocation as a capture line (without the newline)."""
    record = {
        "captureData": {
            "endpointInput": _payload(request, request_type, "INPUT"),
            "endpointOutput": _payload(response, response_type, "OUTPUT"),
        },
        "eventMetadata": {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":"))


class CaptureWriter:
    """Appends captured invocations to hourly JSON Lines files under one folder."""

    def __init__(
        self,
        directory: Path,
        percent: float = 100.0,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        draw: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < percent <= 100:
            raise ValueError(f"capture percent must be in (0, 100], not {percent}")
        self.directory = directory
        self.percent = percent
        self.clock = clock
        self.draw = draw
        self.written = 0
        """Lines written so far."""
        self._hour = ""
        self._file: IO[str] | None = None

    def record(
        self, request: bytes, request_type: str, response: bytes, response_type: str
    ) -> bool:
        """Capture one answered invocation; False when sampling leaves it out.

        Raises ``OSError`` when the line cannot be written.
        """
        if self.percent < 100 and self.draw() * 100 >= self.percent:
            return False
        now = self.clock()
        self._file_for(now).write(
            capture_line(request, request_type, response, response_type, now) + "\n"
        )
        assert self._file is not None
        self._file.flush()
        self.written += 1
        return True

    def _file_for(self, now: datetime) -> IO[str]:
        hour = now.strftime("%Y/%m/%d/%H")
        if self._file is None or hour != self._hour:
            self.close()
            folder = self.directory / hour
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{now.strftime('%M-%S')}-{now.microsecond // 1000:03d}-{uuid.uuid4().hex[:8]}"
            self._file = (folder / f"{name}.jsonl").open("a", encoding="utf-8")
            self._hour = hour
        return self._file

    def close(self) -> None:
        """Close the current file (a later record opens a new one)."""
        if self._file is not None:
            self._file.close()
            self._file = None
