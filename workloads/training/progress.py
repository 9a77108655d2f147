"""A progress display for long loops (epochs, boosting rounds, AutoML trials).

On a terminal it is one line redrawn in place (carriage return); in a log (SageMaker's
CloudWatch stream, a CI job) it prints at most one plain line every ``interval`` seconds and a
final line, so a long run neither floods the log nor goes silent. It writes to stderr by
default: stdout carries the metric lines the tuning regexes read.

Everything else a run prints while a bar may be on screen goes through :func:`write_line`: on a
terminal it wipes the bar off its line, writes the whole line, and draws the bar again below
it, so a metric line never lands after the bar's text on the same line. A loop that ends early
says so in its final line (:meth:`Progress.stop_early`) rather than stopping at ``70/500 14%``
as if it had crashed.
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


#: The bar drawn on a terminal right now (one terminal, so at most one bar at a time).
_on_screen: Progress | None = None


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (False for a closed or file-less stream)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def write_line(text: str, stream: TextIO | None = None) -> None:
    """Write ``text`` as one whole flushed line to ``stream`` (default: stderr as it is now).

    A progress bar on a terminal is wiped first and drawn again after the line.
    """
    stream = sys.stderr if stream is None else stream
    bar = _on_screen
    if bar is not None:
        bar._erase()
    stream.write(text + "\n")
    stream.flush()
    if bar is not None:
        bar._show(final=False)


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
        self._early: str | None = None
        self.interactive = is_terminal(self.stream)

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

    def stop_early(self, reason: str) -> None:
        """End before ``total`` on purpose: the final line says so, with ``reason``.

        E.g. ``stop_early("no improvement in valid_auc for 5 epochs")`` makes the final line
        ``epochs: stopped early at 70/500 after 0:42: no improvement in valid_auc for 5 epochs``.
        """
        self._early = reason

    def close(self) -> None:
        """Show the final line (once; in a log, not again when the last line already said it)."""
        global _on_screen
        if self._closed:
            return
        self._closed = True
        if _on_screen is self:
            _on_screen = None
        if self._early is None and not self.interactive and self._last == self._state():
            return
        self._show(final=True)

    def final_line(self) -> str:
        """The last line: :meth:`line`, or the early stop and its reason."""
        if self._early is None:
            return self.line()
        elapsed = _duration(self.clock() - self.started)
        return (
            f"{self.description}: stopped early at {self.count}/{self.total} after {elapsed}: "
            f"{self._early}"
        )

    def _state(self) -> tuple[object, ...]:
        return (self.count, *self.postfix.items())

    def _show(self, *, final: bool) -> None:
        global _on_screen
        text = self.final_line() if final else self.line()
        self._last = self._state()
        if self.interactive:
            # Pad over the longer text of the previous redraw.
            padding = " " * max(0, self._width - len(text))
            self._width = 0 if final else len(text)
            self.stream.write("\r" + text + padding + ("\n" if final else ""))
            if not final:
                _on_screen = self
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _erase(self) -> None:
        """Wipe the bar off its terminal line, leaving the cursor at its start."""
        self.stream.write("\r" + " " * self._width + "\r")
        self.stream.flush()
        self._width = 0
