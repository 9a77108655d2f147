"""Progress: one redrawn line on a terminal, sparse plain lines and a final one in a log."""

from __future__ import annotations

import io

from workloads.training.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_log_it_prints_at_most_one_line_per_interval_and_a_final_line() -> None:
    # given a non-terminal stream and a clock we move
    stream, clock = io.StringIO(), Clock()
    # when 10 steps take 1 s each, with a 5 s interval
    with Progress(10, "epochs", stream, interval=5.0, clock=clock) as progress:
        for epoch in range(10):
            clock.now += 1.0
            progress.advance(loss=1.0 / (epoch + 1))
            if epoch == 7:
                clock.now += 0.5
    # then a line every 5 s and a final line, none with a carriage return
    lines = stream.getvalue().splitlines()
    assert lines == [
        "epochs: 5/10  50% 0:05 <0:05 loss=0.2",
        "epochs: 10/10 100% 0:10 loss=0.1",
    ]
    assert "\r" not in stream.getvalue()


def test_the_final_line_is_not_repeated_when_the_last_advance_printed_it() -> None:
    """Given the last advance lands on an interval, when closed, then the line is not repeated."""
    stream, clock = io.StringIO(), Clock()
    with Progress(2, "trials", stream, interval=1.0, clock=clock) as progress:
        clock.now += 1.0
        progress.advance(best=0.5)
        clock.now += 1.0
        progress.advance(best=0.25)
    assert stream.getvalue().splitlines() == [
        "trials: 1/2  50% 0:01 <0:01 best=0.5",
        "trials: 2/2 100% 0:02 best=0.25",
    ]


def test_on_a_terminal_it_redraws_one_line_in_place() -> None:
    # given a terminal
    stream, clock = Terminal(), Clock()
    # when steps advance (text shrinking once)
    with Progress(3, "rounds", stream, redraw=0.1, clock=clock) as progress:
        clock.now += 1.0
        progress.advance(status="warming")
        clock.now += 1.0
        progress.advance(status="ok")
        clock.now += 1.0
        progress.advance()
    # then every draw starts with a carriage return, pads over the longer text, and ends the line
    draws = stream.getvalue().split("\r")[1:]
    assert draws[0] == "rounds: 1/3  33% 0:01 <0:02 status=warming"
    assert draws[1] == "rounds: 2/3  66% 0:02 <0:01 status=ok     "
    assert draws[-1].endswith("\n")
    assert draws[-1].startswith("rounds: 3/3 100% 0:03 status=ok")


def test_long_runs_show_hours() -> None:
    """Given a run past an hour, then the elapsed time has hours."""
    clock = Clock()
    progress = Progress(0, "epochs", io.StringIO(), clock=clock)
    clock.now += 3725
    assert progress.line() == "epochs: 0/0 1:02:05"
