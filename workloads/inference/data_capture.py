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
a new file each hour. Lines are written in whole-line batches, at most ``FLUSH_SECONDS`` after
they were recorded (the server also calls :meth:`CaptureWriter.flush` every second, so a quiet
server's last lines land too) and at close, so ``ml-platform-monitor check --capture DIR`` reads
all the traffic up to a second ago while the server still runs, and never half a line.

Why batches and a hand-built line: the capture runs on the server's event-loop thread, inside
every request's budget. Built with ``json.dumps`` of nested dicts, a ``uuid4`` and two
``strftime``, and written with a flushed ``write`` of its own, a record cost about 16.6 us and a
system call handing the GIL to the predict worker on every request, and the server's throughput
with capture on fell to 0.54-0.66x of capture off (``benchmarks/serving_capture.py``, one-row
LogisticRegression). A record now costs about 4.3 us; docs/performance.md has the figures.
"""

from __future__ import annotations

import base64
import functools
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring_ascii as _quoted  # type: ignore[attr-defined]
from pathlib import Path
from typing import IO

_TEXT_ENCODINGS = {"text/csv": b"CSV", "application/json": b"JSON"}
FLUSH_SECONDS = 0.1
"""Longest a recorded line waits before it is written (while records keep coming)."""
FLUSH_BYTES = 256 * 1024
"""Pending lines are written once they reach this many bytes."""
_ONE_SECOND = timedelta(seconds=1)
# What json.dumps escapes in ASCII text: control characters, DEL, the quote and the backslash.
_ESCAPED = bytes(range(32)) + b'\x7f"\\'

_LINE = (
    b'{"captureData":{"endpointInput":{"observedContentType":%s,"mode":"INPUT","data":%s,'
    b'"encoding":"%s"},"endpointOutput":{"observedContentType":%s,"mode":"OUTPUT","data":%s,'
    b'"encoding":"%s"}},"eventMetadata":{"eventId":"%s","inferenceTime":"%s"},"eventVersion":"0"}'
)
"""A capture record with SageMaker's keys in its order; ``%`` fills in the variable parts."""


@functools.lru_cache(maxsize=64)
def _quoted_type(media_type: str) -> bytes:
    return _quoted(media_type).encode("ascii")  # type: ignore[no-any-return]


def _data(body: bytes, media_type: str) -> tuple[bytes, bytes]:
    """A body as a quoted JSON string and its encoding: CSV and JSON as text, else BASE64.

    Plain ASCII text (no control character, quote or backslash: most CSV rows and numeric JSON)
    is its own JSON string, so it is copied between quotes without a decode or an escape pass.
    """
    encoding = _TEXT_ENCODINGS.get(media_type)
    if encoding is not None:
        if body.isascii() and len(body.translate(None, _ESCAPED)) == len(body):
            return b'"' + body + b'"', encoding
        try:
            return _quoted(body.decode("utf-8")).encode("ascii"), encoding
        except UnicodeDecodeError:
            pass
    return b'"' + base64.b64encode(body) + b'"', b"BASE64"


def _line(
    request: bytes,
    request_type: str,
    response: bytes,
    response_type: str,
    event: bytes,
    stamp: bytes,
) -> bytes:
    in_data, in_encoding = _data(request, request_type)
    out_data, out_encoding = _data(response, response_type)
    return _LINE % (
        _quoted_type(request_type),
        in_data,
        in_encoding,
        _quoted_type(response_type),
        out_data,
        out_encoding,
        event,
        stamp,
    )


def event_id() -> str:
    """A random (version 4) UUID as text: the ``eventId`` of a record captured alone."""
    return str(uuid.uuid4())


class EventIds:
    """Event ids for one writer: UUID-shaped, 80 random bits fixed per writer, then a counter.

    Unique within the writer by the counter and across writers by the random part, at a fraction
    of a ``uuid4``'s cost per record (the capture runs inside every request's budget).
    """

    def __init__(self) -> None:
        text = uuid.uuid4().hex
        self._prefix = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-".encode()
        self._count = 0

    def next(self) -> bytes:
        """The next id, as ASCII bytes."""
        self._count += 1
        return b"%s%012x" % (self._prefix, self._count)


def capture_line(
    request: bytes, request_type: str, response: bytes, response_type: str, when: datetime
) -> str:
    """One invocation as a capture line (without the newline), with a random event id.

    Built as text rather than with ``json.dumps`` of nested dicts (several times the cost); the
    strings are escaped as ``json.dumps`` escapes them, so the line is the one it would write.
    """
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    line = _line(request, request_type, response, response_type, event_id().encode(), stamp)
    return line.decode("ascii")


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
        self.recorded = 0
        """Lines recorded so far: written, pending, or lost by a failed write."""
        self.written = 0
        """Lines written to files so far (recorded lines still pending are not counted)."""
        self.lost = 0
        """Recorded lines that could not be written (a write raised ``OSError``)."""
        self._hour = ""
        self._file: IO[bytes] | None = None
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._flushed_at = time.monotonic()
        # The whole second ``_stamp`` and ``_hour_of_second`` were made for: [start, end).
        self._second_start = self._second_end = datetime.min.replace(tzinfo=UTC)
        self._stamp = b""
        self._hour_of_second = ""
        self._ids = EventIds()

    def record(
        self, request: bytes, request_type: str, response: bytes, response_type: str
    ) -> bool:
        """Capture one answered invocation; False when sampling leaves it out.

        The line is written with the pending ones (see the module's docstring). Raises
        ``OSError`` when a write fails; the lines it held are counted in ``lost``.
        """
        if self.percent < 100 and self.draw() * 100 >= self.percent:
            return False
        now = self.clock()
        if not self._second_start <= now < self._second_end:  # strftime once a second at most
            self._second_start = now.replace(microsecond=0)
            self._second_end = self._second_start + _ONE_SECOND
            self._stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
            self._hour_of_second = now.strftime("%Y/%m/%d/%H")
        if self._file is None or self._hour_of_second != self._hour:
            try:
                self._open(now, self._hour_of_second)
            except OSError:
                self.lost += 1  # this line: it has nowhere to go
                raise
        line = _line(request, request_type, response, response_type, self._ids.next(), self._stamp)
        self._pending.append(line)
        self.recorded += 1
        self._pending_bytes += len(line) + 1
        if (
            self._pending_bytes >= FLUSH_BYTES
            or time.monotonic() - self._flushed_at >= FLUSH_SECONDS
        ):
            self.flush()
        return True

    def _open(self, now: datetime, hour: str) -> None:
        """Write what is pending to the current file, then start a file in ``hour``'s folder."""
        self.close()
        folder = self.directory / hour
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{now.strftime('%M-%S')}-{now.microsecond // 1000:03d}-{uuid.uuid4().hex[:8]}"
        # Unbuffered: each flush is one write of whole lines, so a reader never sees half one.
        self._file = (folder / f"{name}.jsonl").open("ab", buffering=0)
        self._hour = hour

    def flush(self) -> None:
        """Write the pending lines to the current file now (one write).

        Raises ``OSError`` when the write fails; the pending lines are then dropped and counted
        in ``lost``.
        """
        self._flushed_at = time.monotonic()
        if not self._pending or self._file is None:
            return
        lines, count = self._pending, len(self._pending)
        self._pending, self._pending_bytes = [], 0
        try:
            self._file.write(b"\n".join(lines) + b"\n")
        except OSError:
            self.lost += count
            raise
        self.written += count

    def close(self) -> None:
        """Write what is pending and close the current file (a later record opens a new one)."""
        if self._file is not None:
            try:
                self.flush()
            finally:
                self._file.close()
                self._file = None
