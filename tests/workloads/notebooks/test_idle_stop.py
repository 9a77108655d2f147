"""The idle auto-stop on a notebook instance: when it stops the instance, and when it never does.

given Jupyter's sessions (or no answer) and the instance's start / when the cron job runs / then
the instance stops only when no kernel is busy and the newest activity is older than the limit.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from workloads.notebooks import idle_stop

UTC = datetime.UTC


STARTED = datetime.datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def session(state: str, last_activity: str) -> dict[str, Any]:
    return {"kernel": {"execution_state": state, "last_activity": last_activity}}


@pytest.mark.parametrize(
    ("sessions", "now", "stops"),
    [
        # no kernel at all: idle since the instance started
        ([], STARTED + datetime.timedelta(minutes=59), False),
        ([], STARTED + datetime.timedelta(minutes=60), True),
        # a busy kernel keeps the instance up however old its activity
        (
            [session("busy", "2026-01-01T08:00:00.000000Z")],
            STARTED + datetime.timedelta(hours=9),
            False,
        ),
        # the newest activity of any kernel counts
        (
            [
                session("idle", "2026-01-01T08:10:00.000000Z"),
                session("idle", "2026-01-01T09:30:00.123456Z"),
            ],
            datetime.datetime(2026, 1, 1, 10, 29, tzinfo=UTC),
            False,
        ),
        (
            [session("idle", "2026-01-01T09:30:00.123456Z")],
            datetime.datetime(2026, 1, 1, 10, 31, tzinfo=UTC),
            True,
        ),
    ],
)
def test_idle_means_no_busy_kernel_and_no_recent_activity(
    sessions: list[dict[str, Any]], now: datetime.datetime, stops: bool
) -> None:
    assert idle_stop.should_stop(sessions, STARTED, now, 60) is stops


def test_an_idle_instance_stops_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    # given Jupyter with no kernel on an instance that started two hours ago
    two_hours_ago = datetime.datetime.now(UTC) - datetime.timedelta(hours=2)
    stopped: list[tuple[str, str]] = []
    monkeypatch.setattr(idle_stop, "read_sessions", lambda: [])
    monkeypatch.setattr(idle_stop, "started_at", lambda: two_hours_ago)
    monkeypatch.setattr(
        idle_stop, "stop_instance", lambda name, region: stopped.append((name, region))
    )
    # when the cron job runs with a 60-minute limit
    args = ["--notebook-name", "mlp-dev-notebook", "--region", "us-east-1", "--idle-minutes", "60"]
    status = idle_stop.main(args)
    # then it stops this instance, and only once
    assert status == 0
    assert stopped == [("mlp-dev-notebook", "us-east-1")]


def test_an_unreachable_jupyter_never_stops_the_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a Jupyter server that does not answer (it restarts at every start)
    def unreachable() -> list[dict[str, Any]]:
        raise ConnectionRefusedError("restarting")

    stopped: list[str] = []
    monkeypatch.setattr(idle_stop, "read_sessions", unreachable)
    monkeypatch.setattr(idle_stop, "stop_instance", lambda name, region: stopped.append(name))
    # when the cron job runs / then it leaves the instance alone
    args = ["--notebook-name", "n", "--region", "us-east-1", "--idle-minutes", "10"]
    assert idle_stop.main(args) == 0
    assert stopped == []
