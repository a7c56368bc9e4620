"""Everything in the gateway that runs on a timer, on a fake clock driven past every window.

The last release's gateway stopped answering 60 s after start-up (a method reached only after the
limiter's one-minute prune timer); every test then ran in a process's first minute. These tests
move the clock instead of waiting for it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import List

import pytest

from bot.gateway import app as gateway_app
from bot.gateway.metrics import Metrics
from bot.gateway.visitor.limits import WINDOW_SECONDS, ConnectionLimit, RateLimit
from tests.support.clock import FakeClock


def test_the_rate_limit_allows_its_quota_then_asks_to_wait_until_the_window_moves():
    clock = FakeClock()
    limit = RateLimit(3, clock=clock)
    assert [limit.retry_after("c") for _ in range(3)] == [None, None, None]
    clock.advance(20)
    assert limit.retry_after("c") == pytest.approx(40.0)
    clock.advance(40)
    assert limit.retry_after("c") is None


def test_the_new_conversation_limit_counts_an_hour_per_client_and_forgets_idle_clients():
    clock = FakeClock()
    limit = RateLimit(2, window_seconds=3600.0, clock=clock)
    assert [limit.retry_after("203.0.113.9") for _ in range(2)] == [None, None]
    assert limit.retry_after("198.51.100.1") is None
    clock.advance(1800)
    assert limit.retry_after("203.0.113.9") == pytest.approx(1800.0)
    clock.advance(1800)
    assert limit.retry_after("203.0.113.9") is None
    clock.advance(3 * 3600)
    limit.retry_after("192.0.2.7")
    assert limit.tracked_keys() == 1


@pytest.mark.parametrize("minutes", [1, 2, 5, 61, 60 * 24 * 3])
def test_the_rate_limit_keeps_answering_after_every_prune_of_idle_conversations(minutes):
    clock = FakeClock()
    limit = RateLimit(2, clock=clock)
    for second in range(0, minutes * 60 + 1, 15):
        clock.now = 1000.0 + second
        assert limit.retry_after(f"visitor-{second}") is None
        wait = limit.retry_after("regular")
        assert wait is None or 0 < wait <= WINDOW_SECONDS


def test_idle_conversations_are_forgotten_so_memory_stays_bounded():
    clock = FakeClock()
    limit = RateLimit(5, clock=clock)
    for number in range(1000):
        limit.retry_after(f"c{number}")
    assert limit.tracked_keys() == 1000
    clock.advance(WINDOW_SECONDS + 1)
    limit.retry_after("new")
    assert limit.tracked_keys() == 1


def test_a_conversation_active_across_a_prune_keeps_its_count():
    clock = FakeClock()
    limit = RateLimit(2, clock=clock)
    limit.retry_after("c")
    clock.advance(WINDOW_SECONDS - 1)
    limit.retry_after("c")
    clock.advance(2)  # the prune runs now; "c" sent a message 1 s ago
    assert limit.retry_after("c") is None
    assert limit.retry_after("c") is not None


def test_connections_per_ip_are_counted_and_released():
    limit = ConnectionLimit(2)
    assert limit.acquire("1.2.3.4") and limit.acquire("1.2.3.4")
    assert not limit.acquire("1.2.3.4")
    limit.release("1.2.3.4")
    assert limit.acquire("1.2.3.4")
    assert limit.open_connections("5.6.7.8") == 0


class FakeSleep:
    """Stands in for asyncio.sleep: records each wait and stops the loop after `rounds` of them."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.waits: List[float] = []

    async def __call__(self, seconds: float) -> None:
        if len(self.waits) == self.rounds:
            raise asyncio.CancelledError
        self.waits.append(seconds)


def run_every(seconds: float, job, rounds: int):
    app = SimpleNamespace(state=SimpleNamespace(metrics=Metrics()))
    sleep = FakeSleep(rounds)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(gateway_app.every(seconds, job, app, sleep=sleep))
    return app.state.metrics, sleep


def test_a_housekeeping_job_runs_after_each_interval_forever():
    runs = []

    async def job(app):
        runs.append(len(runs))

    _, sleep = run_every(30, job, rounds=5)
    assert runs == [0, 1, 2, 3, 4]
    assert sleep.waits == [30] * 5


def test_a_failing_housekeeping_round_is_counted_and_the_next_round_still_runs(caplog):
    runs = []

    async def job(app):
        runs.append(1)
        if len(runs) % 2:
            raise RuntimeError("database is down")

    metrics, _ = run_every(15, job, rounds=4)
    assert len(runs) == 4
    assert metrics.value("housekeeping_failures") == 2
    assert "job failed" in caplog.text and "database is down" in caplog.text


def test_each_housekeeping_job_has_its_interval():
    intervals = {job.__name__: seconds for seconds, job in gateway_app.HOUSEKEEPING}
    assert intervals == {"expire_overdue": 30, "redact_contact_details": 15, "purge_expired": 24 * 3600}


def test_handoff_expiry_waits_for_the_configured_minutes(tmp_path):
    """The expiry job on a fake clock: nothing before the wait is over, the handoff once it is."""
    from bot.store import handoffs, migrate, session_scope, utcnow
    from tests.support.console_client import console_settings

    settings = console_settings(tmp_path, handoff_wait_minutes=10)
    migrate(settings.app_db_url)
    opened = utcnow()
    with session_scope(settings.app_db_url) as session:
        handoffs.open_handoff(session, "conv-wait", "request_human", "normal", None, now=opened)
    assert gateway_app._expire_waiting(settings, opened + timedelta(minutes=9, seconds=59)) == ()
    expired = gateway_app._expire_waiting(settings, opened + timedelta(minutes=10, seconds=31))
    assert [conversation for _, conversation, _ in expired] == ["conv-wait"]


def test_remembered_answers_are_replayed_within_their_time_and_forgotten_after():
    from bot.gateway.visitor.reply_memory import REMEMBERED_SECONDS, ReplyMemory

    clock = FakeClock()
    memory = ReplyMemory(clock=clock)
    memory.put("c", "m1", {"type": "bot", "reply_to": "m1"})
    clock.advance(REMEMBERED_SECONDS - 1)
    assert memory.get("c", "m1") == {"type": "bot", "reply_to": "m1"}
    memory.put("c", "m2", {"type": "bot", "reply_to": "m2"})
    clock.advance(2)
    assert memory.get("c", "m1") is None
    assert memory.get("c", "m2") is not None
    clock.advance(REMEMBERED_SECONDS)
    assert memory.get("c", "m2") is None and len(memory) == 0


def test_remembered_answers_stay_bounded_however_many_visitors_come():
    from bot.gateway.visitor.reply_memory import ReplyMemory

    memory = ReplyMemory(max_replies=100, clock=FakeClock())
    for number in range(10_000):
        memory.put(f"conversation-{number % 700}", f"m{number}", {"n": number})
    assert len(memory) == 100
    assert memory.get("conversation-199", "m9999") == {"n": 9999}
    assert memory.get("conversation-0", "m0") is None
