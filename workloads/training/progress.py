"""A progress display for long loops (epochs, boosting rounds, AutoML trials).

On a terminal it is one line redrawn in place (carriage return); in a log (SageMaker's
CloudWatch stream, a CI job) it prints at most one plain line every ``interval`` seconds and a
final line, so a long run neither floods the log nor goes silent. It writes to stderr by
default: stdout carries the metric lines the tuning regexes read.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from workloads.closing import Closeable


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60:d}:{seconds % 60:02d}"
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _value(value: float | str) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Progress(Closeable):
    """``with Progress(total, "epochs") as progress: ... progress.advance(loss=0.4)``."""

    def __init__(
        self,
        total: int,
        description: str,
        stream: TextIO | None = None,
        *,
        interval: float = 5.0,
        redraw: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(0, int(total))
        self.description = description
        # sys.stderr as it is now, not as it was at import (tests and tools replace it).
        self.stream: TextIO = sys.stderr if stream is None else stream
        self.interval = interval
        """Seconds between plain lines when the stream is not a terminal."""
        self.redraw = redraw
        """Seconds between redraws on a terminal."""
        self.clock = clock
        self.count = 0
        self.postfix: dict[str, float | str] = {}
        self.started = clock()
        self._shown = self.started
        self._width = 0
        self._last: tuple[object, ...] = ()
        self._closed = False
        try:
            self.interactive = bool(self.stream.isatty())
        except (AttributeError, ValueError):  # a closed or file-less stream
            self.interactive = False

    def line(self) -> str:
        """The current progress text: description, count, percentage, elapsed time, postfix."""
        elapsed = self.clock() - self.started
        parts = [f"{self.description}: {self.count}/{self.total}"]
        if self.total:
            parts.append(f"{min(100, 100 * self.count // self.total):3d}%")
        parts.append(_duration(elapsed))
        if 0 < self.count < self.total:
            remaining = elapsed / self.count * (self.total - self.count)
            parts.append(f"<{_duration(remaining)}")
        parts += [f"{name}={_value(value)}" for name, value in self.postfix.items()]
        return " ".join(parts)

    def advance(self, n: int = 1, **postfix: float | str) -> None:
        """Count ``n`` more units done; ``postfix`` values (e.g. ``loss=0.41``) are shown too."""
        self.count += n
        self.postfix.update(postfix)
        now = self.clock()
        if now - self._shown >= (self.redraw if self.interactive else self.interval):
            self._show(final=False)
            self._shown = now

    def close(self) -> None:
        """Show the final line (once; in a log, not again when the last line already said it)."""
        if self._closed:
            return
        self._closed = True
        if not self.interactive and self._last == self._state():
            return
        self._show(final=True)

    def _state(self) -> tuple[object, ...]:
        return (self.count, *self.postfix.items())

    def _show(self, *, final: bool) -> None:
        text = self.line()
        self._last = self._state()
        if self.interactive:
            # Pad over the longer text of the previous redraw.
            padding = " " * max(0, self._width - len(text))
            self._width = len(text)
            self.stream.write("\r" + text + padding + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
