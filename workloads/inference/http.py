"""HTTP/1.1 for the inference server: request parsing and framing, connections, responses.

The application (routes, the model, batching) lives in ``workloads.inference.server``, which
subclasses :class:`HttpConnection`; this module knows nothing of models. What it guarantees:

- Each connection parses its requests in order and answers each with one ``write``; pipelined
  requests wait in the buffer while an answer is computed, and a connection stops reading once
  it holds ``max_buffer`` unread bytes.
- Broken framing is refused as soon as it shows: a request line or header that cannot be HTTP
  is a 400 before the head is even complete, a head over ``MAX_HEAD_BYTES`` a 431, a
  Content-Length over the body limit a 413 before the body is read, a chunked body a 411. Lines
  may end in a bare LF (RFC 9112 section 2.2 lets a recipient accept one); a bare CR is a 400.
  Errors are a short JSON ``{"error": ...}``, never a 5xx for bad input.
- A refused request is answered, then our side half-closes and the rest is read and dropped
  for ``LINGER_SECONDS``, so the client reads the answer rather than a reset.
- Idle keep-alive connections close after ``KEEP_ALIVE_SECONDS``; a request that stops arriving
  for ``REQUEST_SECONDS`` gets a 408. While the host drains, the last answer owed on each
  connection says ``Connection: close``; :meth:`HttpConnection.abandon` answers what is still
  owed with a 503.

Standard library only.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Protocol

MAX_HEAD_BYTES = 64 * 1024
"""Request line plus headers; more is a 431."""
_PARTIAL_CHECK_BYTES = 1024
"""How much of an unfinished request line is checked on each read (bounded: a client sending one
byte at a time must not make each read cost the whole line)."""
KEEP_ALIVE_SECONDS = 75.0
"""An idle keep-alive connection is closed after this long."""
REQUEST_SECONDS = 30.0
"""A request whose head or body stops arriving for this long gets a 408 (a well-formed prefix
that stalls; a malformed one is refused at once)."""
LINGER_SECONDS = 2.0
"""After refusing a request we close our side and read (and drop) the rest for this long, so the
client sees our answer rather than a reset."""

_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    406: b"Not Acceptable",
    408: b"Request Timeout",
    411: b"Length Required",
    413: b"Content Too Large",
    415: b"Unsupported Media Type",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}
_STATUS_LINES = {code: b"HTTP/1.1 %d %s\r\n" % (code, reason) for code, reason in _REASONS.items()}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# RFC 9110 section 5.6.2: a token (method, field name) is one or more tchars.
_TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VISIBLE = bytes(range(0x21, 0x7F))  # a request-target has no spaces, controls or non-ASCII
_VERSIONS = (b"HTTP/1.1", b"HTTP/1.0")
_MALFORMED_LINE = "malformed request line"
_MALFORMED_HEADER = "malformed header line"
_SHUTTING_DOWN = "server is shutting down"


JSON_CONTENT_TYPE = b"application/json"
"""The media type of error bodies."""


class ConnectionHost(Protocol):
    """What a connection needs from the server that owns it."""

    clock: float
    """``time.monotonic()`` as of the last tick (timeouts are judged against it)."""
    date_header: bytes
    """The ``Date`` header line of every answer (refreshed each tick)."""
    draining: bool
    """Shutting down: the last answer owed on each connection says ``Connection: close``."""
    max_buffer: int
    """A busy connection stops reading once it holds this many unread bytes."""
    max_body_bytes: int
    """Largest request body; a bigger Content-Length is a 413 before the body is read."""

    def connection_opened(self, connection: HttpConnection) -> None:
        """A client connected."""

    def connection_closing(self, connection: HttpConnection) -> None:
        """A connection will take no more requests."""

    def connection_lost(self, connection: HttpConnection) -> None:
        """A connection is gone."""


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _request_line_problem(line: bytes, complete: bool) -> str | None:
    """What is wrong with a request line (or, not ``complete``, with its beginning), if anything."""
    parts = line.split(b" ")
    if len(parts) > 3 or (complete and len(parts) != 3):
        return _MALFORMED_LINE
    method = parts[0]
    if method.translate(None, _TCHARS) or ((complete or len(parts) > 1) and not method):
        return _MALFORMED_LINE
    if len(parts) > 1:
        target = parts[1]
        if target.translate(None, _VISIBLE) or ((complete or len(parts) > 2) and not target):
            return _MALFORMED_LINE
    if len(parts) > 2:
        version = parts[2]
        if complete and version not in _VERSIONS:
            # A 400 rather than 505: bad input is never answered with a 5xx.
            if version.startswith(b"HTTP/") and not version[5:].translate(None, b"0123456789."):
                return "only HTTP/1.0 and HTTP/1.1 are served"
            return _MALFORMED_LINE
        if not complete and not version.startswith(b"HTTP/"[: len(version)]):
            return _MALFORMED_LINE
    return None


def _header_name_problem(name: bytes) -> str | None:
    # No space before the colon (RFC 9112 section 5.1), and no obsolete line folding either.
    return _MALFORMED_HEADER if not name or name.translate(None, _TCHARS) else None


def _header_line_problem(line: bytes) -> str | None:
    """What is wrong with one header line (its CR already stripped), if anything."""
    name, colon, value = line.partition(b":")
    # RFC 9110 section 5.5: CR and NUL in a field value must be refused (or replaced).
    if not colon or _header_name_problem(name) or b"\r" in value or b"\0" in value:
        return _MALFORMED_HEADER
    return None


def _head_end(buffer: bytearray) -> tuple[int, int]:
    """Where the head ends (its blank line) and the body starts; (-1, -1) if not yet received.

    Lines end in CRLF or a bare LF (RFC 9112 section 2.2), so the blank line is LF CR LF or
    LF LF. Only the first ``MAX_HEAD_BYTES`` are searched.
    """
    limit = MAX_HEAD_BYTES + 3
    crlf = buffer.find(b"\n\r\n", 0, limit)
    lf = buffer.find(b"\n\n", 0, crlf + 1 if crlf >= 0 else limit)
    if lf >= 0:
        return lf, lf + 2
    if crlf >= 0:
        return crlf, crlf + 3
    return -1, -1


class RequestHead:
    """A parsed request line and the headers the server acts on."""

    __slots__ = (
        "accept",
        "body_start",
        "content_type",
        "expect_continue",
        "keep_alive",
        "length",
        "method",
        "target",
        "total",
    )

    def __init__(self, head: bytes, body_start: int) -> None:
        lines = head.split(b"\n")
        request_line = lines[0].removesuffix(b"\r")
        problem = _request_line_problem(request_line, complete=True)
        if problem:
            raise _BadRequest(400, problem)
        self.method, self.target, version = request_line.split(b" ")
        length: int | None = None
        content_type = accept = None
        connection = expect = b""
        for raw in lines[1:]:
            line = raw.removesuffix(b"\r")
            problem = _header_line_problem(line)
            if problem:
                raise _BadRequest(400, problem)
            name, _, value = line.partition(b":")
            name = name.lower()
            value = value.strip(b" \t")
            if name == b"content-length":
                # Refuse what int() would take but HTTP does not (signs, spaces, huge strings).
                if not value.isdigit():
                    raise _BadRequest(400, "invalid Content-Length")
                given = int(value) if len(value) < 19 else sys.maxsize
                if length is not None and given != length:
                    raise _BadRequest(400, "conflicting Content-Length headers")
                length = given
            elif name == b"content-type":
                content_type = value
            elif name == b"accept":
                accept = value if accept is None else accept + b", " + value
            elif name == b"connection":
                connection = value.lower()
            elif name == b"expect":
                expect = value.lower()
            elif name == b"transfer-encoding":
                raise _BadRequest(411, "chunked bodies are not accepted; send Content-Length")
        self.content_type = content_type.decode("latin-1") if content_type else None
        self.accept = accept.decode("latin-1") if accept else None
        if version == b"HTTP/1.1":
            self.keep_alive = b"close" not in connection
        else:
            self.keep_alive = b"keep-alive" in connection
        self.expect_continue = expect == b"100-continue"
        self.length = length or 0
        self.body_start = body_start
        self.total = self.body_start + self.length


def _parse_head(buffer: bytearray) -> RequestHead | None:
    """The head at the start of ``buffer`` if it is all there (raises ``_BadRequest``)."""
    end, body_start = _head_end(buffer)
    if end < 0:
        return None
    if end > MAX_HEAD_BYTES:
        raise _BadRequest(431, "request head is too large")
    return RequestHead(bytes(buffer[:end]), body_start)


def _drop_leading_blank_lines(buffer: bytearray) -> None:
    # RFC 9112 section 2.2: a server should ignore at least one empty line before a request.
    if buffer[:1] in (b"\r", b"\n"):
        kept = len(buffer.lstrip(b"\r\n"))
        del buffer[: len(buffer) - kept]


class HttpConnection(asyncio.Protocol):
    """One client connection: parses requests in order, answers each with one write.

    The application subclasses it: :meth:`handle` gets each complete request; it answers with
    :meth:`_reply` or :meth:`_error` at once, or sets ``busy``, answers later and then calls
    :meth:`_resume` so the requests received meanwhile are served in order.
    """

    def __init__(self, host: ConnectionHost) -> None:
        self.host = host
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.head: RequestHead | None = None
        self.busy = False  # waiting for a prediction: later pipelined requests wait in buffer
        self.processing = False
        self.closed = False
        self.closed_at = 0.0
        self.paused = False
        self.keep_alive = True
        self.peer_done = False  # the client half-closed: close after the answers owed
        self.linger = False  # close by half-closing first (after a refusal)
        self.last_seen = host.clock
        self.scanned = 0  # the unfinished head's complete lines up to here are checked

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register with the server."""
        self.transport = transport  # type: ignore[assignment]
        self.host.connection_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget this connection; a prediction still coming for it is dropped."""
        self._mark_closed()
        self.host.connection_lost(self)

    def eof_received(self) -> bool | None:
        """The client sent everything it will: answer what is complete, then close."""
        self.peer_done = True
        if self.busy and not self.closed:
            return True  # keep our side open for the answer being predicted; _resume closes
        if not self.closed and self._holds_partial_request():
            self._refuse(400, "the connection ended before the request was complete")
        # Idle, or lingering after a refusal: every answer owed is written; let asyncio close.
        self._mark_closed()
        return None

    def data_received(self, data: bytes) -> None:
        """Buffer bytes and answer every complete request, in order."""
        if self.closed:
            return  # lingering after a refusal: drop what the client still sends
        self.last_seen = self.host.clock
        self.buffer += data
        if not self.busy:
            self._process()
        elif len(self.buffer) > self.host.max_buffer and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    # Parsing

    def _process(self) -> None:
        if self.processing:
            return  # a reply made inside the loop below; the loop picks up the next request
        self.processing = True
        try:
            buffer = self.buffer
            while buffer and not self.busy and not self.closed:
                head = self.head
                if head is None:
                    _drop_leading_blank_lines(buffer)
                    try:
                        head = _parse_head(buffer)
                        if head is None:
                            self._check_partial_head()
                            return
                    except _BadRequest as error:
                        self._refuse(error.status, error.message)
                        return
                    self.scanned = 0
                    limit = self.host.max_body_bytes
                    if head.length > limit:
                        self._refuse(
                            413, f"body of {head.length} bytes is over the limit of {limit} bytes"
                        )
                        return
                    if head.expect_continue and len(buffer) < head.total:
                        self.transport.write(_CONTINUE)
                    self.head = head
                if len(buffer) < head.total:
                    return
                body = bytes(buffer[head.body_start : head.total])
                del buffer[: head.total]
                self.head = None
                self.keep_alive = head.keep_alive
                self.handle(head, body)
        finally:
            self.processing = False

    def _check_partial_head(self) -> None:
        """Refuse an unfinished head as soon as what has arrived cannot be HTTP (raises).

        Each complete line is checked once; of the line still arriving, only the first
        ``_PARTIAL_CHECK_BYTES``. A well-formed prefix waits (``REQUEST_SECONDS`` at most).
        """
        buffer = self.buffer
        if len(buffer) > MAX_HEAD_BYTES:
            raise _BadRequest(431, "request head is too large")
        while (newline := buffer.find(b"\n", self.scanned)) >= 0:
            line = bytes(buffer[self.scanned : newline]).removesuffix(b"\r")
            if self.scanned == 0:
                problem = _request_line_problem(line, complete=True)
            else:
                problem = _header_line_problem(line)
            if problem:
                raise _BadRequest(400, problem)
            self.scanned = newline + 1
        tail = bytes(buffer[self.scanned : self.scanned + _PARTIAL_CHECK_BYTES])
        tail = tail.removesuffix(b"\r")
        if self.scanned == 0:
            problem = _request_line_problem(tail, complete=False)
        else:
            name, colon, _ = tail.partition(b":")
            problem = _header_name_problem(name) if colon or name.translate(None, _TCHARS) else None
        if problem:
            raise _BadRequest(400, problem)

    def handle(self, head: RequestHead, body: bytes) -> None:
        """Answer one complete request (the application's part)."""
        raise NotImplementedError

    def answered(self, path: str, status: int) -> None:
        """Called after each answer is written (the application counts it); does nothing here."""

    def _holds_partial_request(self) -> bool:
        """Whether part of a request has arrived and is not answered (blank lines aside)."""
        return self.head is not None or bool(self.buffer.strip(b"\r\n"))

    def _next_request_received(self) -> bool:
        """Whether the buffer holds another whole request (or a broken one, owed its 400)."""
        buffer = self.buffer.lstrip(b"\r\n")
        try:
            head = _parse_head(buffer)
        except _BadRequest:
            return True
        return head is not None and len(buffer) >= head.total

    def _resume(self) -> None:
        self.busy = False
        if self.closed:
            return
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        if self.buffer and not self.processing:
            self._process()
        if self.peer_done and not self.busy and not self.closed:
            if self._holds_partial_request():
                self._refuse(400, "the connection ended before the request was complete")
            else:
                self.close()

    def _error(self, status: int, message: str, path: str, extra: bytes = b"") -> None:
        body = json.dumps({"error": message}).encode()
        self._reply(status, body, JSON_CONTENT_TYPE, path, extra)

    def _reply(
        self, status: int, body: bytes, content_type: bytes, path: str, extra: bytes = b""
    ) -> None:
        host = self.host
        # Draining: answer what was already received, and say close on the last answer.
        keep_alive = self.keep_alive and not (host.draining and not self._next_request_received())
        self.transport.write(
            b"%s%sContent-Type: %s\r\nContent-Length: %d\r\n%s%s\r\n%s"
            % (
                _STATUS_LINES[status],
                host.date_header,
                content_type,
                len(body),
                extra or b"X-Model-Time: 0\r\n",
                b"" if keep_alive else b"Connection: close\r\n",
                body,
            )
        )
        self.answered(path, status)
        if not keep_alive:
            self.close(linger=self.linger)

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request we will not read to its end, then close."""
        self.keep_alive = False
        self.linger = True
        self._error(status, message, "other")

    # Closing

    def _mark_closed(self) -> None:
        if not self.closed:
            self.closed = True
            self.closed_at = self.host.clock
            self.host.connection_closing(self)

    def close(self, linger: bool = False) -> None:
        """Close after what was written; with ``linger``, half-close and drain the client first."""
        if self.closed or self.transport is None:
            return
        self._mark_closed()
        self.buffer.clear()
        transport = self.transport
        if linger and transport.can_write_eof():
            transport.write_eof()  # the sweep closes it after LINGER_SECONDS at the latest
        else:
            transport.close()

    def check_timeouts(self, now: float) -> None:
        """Close this connection if it idled, stalled or lingered too long (called each second)."""
        if self.closed:
            if now - self.closed_at > LINGER_SECONDS and self.transport is not None:
                self.transport.close()
        elif self.busy:
            return
        elif self.buffer or self.head is not None:
            if now - self.last_seen > REQUEST_SECONDS:
                self.keep_alive = False
                self._refuse(408, "request did not arrive in time")
        elif now - self.last_seen > KEEP_ALIVE_SECONDS:
            self.close()

    @property
    def idle(self) -> bool:
        """Open, between requests: nothing in flight, nothing received."""
        return not (self.closed or self.busy or self._holds_partial_request())

    def abandon(self) -> None:
        """The drain bound passed: a 503 to the request still owed an answer, then close."""
        if not self.closed and (self.busy or self._holds_partial_request()):
            self.keep_alive = False
            self._error(503, _SHUTTING_DOWN, "other")  # closes; a late prediction is dropped
        if self.transport is not None:
            self.transport.close()
