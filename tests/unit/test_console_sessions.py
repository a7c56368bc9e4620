"""Console sessions kept server-side (ended by sign-out, idleness, age), the same answer for locked and
unknown accounts, lockouts that back off, the per-client sign-in throttle, and production's HSTS and
Secure cookies. Time is a fake clock wherever a timer decides."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.gateway.app import create_app
from bot.gateway.console import auth
from bot.gateway.console.sign_in_throttle import FIRST_WAIT_SECONDS, WINDOW_SECONDS, SignInThrottle
from bot.store import ConsoleSession, StaffMember, session_scope, utcnow
from tests.support.clock import FakeClock
from tests.support.console_client import add_staff, console_settings, csrf_from, sign_in


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(auth, "utcnow", clock)
    return clock


@pytest.fixture
def settings(tmp_path):
    return console_settings(tmp_path, console_idle_minutes=30, sign_in_failures_per_client=3)


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def console(app, settings):
    with TestClient(app, base_url="http://testserver") as client:
        add_staff(settings)
        add_staff(settings, email="ben@example.org", name="Ben")
        yield client


def signed_in(response) -> bool:
    return response.status_code == 303 and response.headers["location"] == "/console"


def queue_status(console) -> int:
    return console.get("/console", follow_redirects=False).status_code


def test_a_copied_cookie_stops_working_when_its_owner_signs_out(console, app):
    assert signed_in(sign_in(console))
    with TestClient(app, base_url="http://testserver") as copy:
        copy.cookies.set(auth.SESSION_COOKIE, console.cookies[auth.SESSION_COOKIE])
        assert queue_status(copy) == 200
        console.post("/console/logout", data={"csrf": csrf_from(console.get("/console").text)})
        assert queue_status(copy) == 303


def test_the_database_keeps_only_a_hash_of_the_sessions_token(console, settings):
    sign_in(console)
    cookie = console.cookies[auth.SESSION_COOKIE]
    with session_scope(settings.app_db_url) as session:
        row = session.execute(select(ConsoleSession)).scalar_one()
        assert len(row.token_hash) == 64 and row.token_hash not in cookie and row.ended_at is None


def test_an_idle_session_ends_and_a_used_one_does_not(console, clock):
    sign_in(console)
    for _ in range(4):
        clock.advance(minutes=25)
        assert queue_status(console) == 200
    clock.advance(minutes=31)
    assert queue_status(console) == 303
    # Ended for good: coming back within the idle time does not revive it.
    clock.advance(minutes=-5)
    assert queue_status(console) == 303


def test_a_session_ends_after_a_working_day_however_busy(console, clock):
    sign_in(console)
    for _ in range(int(auth.SESSION_SECONDS / 60 / 20)):
        clock.advance(minutes=20)
        assert queue_status(console) == 200
    clock.advance(minutes=20)
    assert queue_status(console) == 303


def refusal(response) -> tuple:
    """What a sign-in answer tells the sender, its fresh CSRF token aside."""
    return response.status_code, re.sub(r'value="[^"]+"', "", response.text)


def test_locked_unknown_and_wrong_password_get_the_same_answer(console, app, clock):
    app.state.sign_in_throttle = SignInThrottle(1000)
    wrong = sign_in(console, password="not the password at all")
    for _ in range(4):
        sign_in(console, password="not the password at all")
    locked = sign_in(console)
    unknown = sign_in(console, email="nobody@example.org")
    assert refusal(wrong) == refusal(locked) == refusal(unknown)
    assert wrong.status_code == 401


def locked_for(settings, email="ana@example.org") -> timedelta:
    with session_scope(settings.app_db_url) as session:
        member = session.execute(select(StaffMember).where(StaffMember.email == email)).scalar_one()
        return member.locked_until - auth.utcnow()


def fail_five_times(console, app):
    # Each round from a fresh client address, so the per-client throttle stays out of it.
    app.state.sign_in_throttle = SignInThrottle(1000)
    for _ in range(auth.MAX_FAILED_LOGINS):
        sign_in(console, password="not the password at all")


def test_each_lockout_in_a_row_lasts_twice_as_long_and_a_sign_in_resets_it(console, app, settings, clock):
    fail_five_times(console, app)
    assert locked_for(settings) == auth.LOCK_TIME
    clock.advance(minutes=16)
    fail_five_times(console, app)
    assert locked_for(settings) == 2 * auth.LOCK_TIME
    clock.advance(minutes=31)
    assert signed_in(sign_in(console))
    console.post("/console/logout", data={"csrf": csrf_from(console.get("/console").text)})
    fail_five_times(console, app)
    assert locked_for(settings) == auth.LOCK_TIME


def test_the_longest_lockout_is_a_day(console, app, settings, clock):
    for _ in range(10):
        fail_five_times(console, app)
        clock.advance(days=2)
    fail_five_times(console, app)
    assert locked_for(settings) == auth.LONGEST_LOCK


def test_one_client_failing_across_many_emails_must_wait(console):
    for number in range(3):
        assert sign_in(console, email=f"guess{number}@example.org").status_code == 401
    refused = sign_in(console)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert auth.SESSION_COOKIE not in refused.cookies


def test_the_throttle_waits_twice_as_long_after_each_further_failure_and_forgets_after_its_window():
    clock = FakeClock()
    throttle = SignInThrottle(failures_allowed=2, clock=clock)
    throttle.failed("203.0.113.9")
    throttle.failed("203.0.113.9")
    assert throttle.wait_seconds("203.0.113.9") == FIRST_WAIT_SECONDS
    assert throttle.wait_seconds("198.51.100.1") is None
    clock.advance(FIRST_WAIT_SECONDS)
    assert throttle.wait_seconds("203.0.113.9") is None
    throttle.failed("203.0.113.9")
    assert throttle.wait_seconds("203.0.113.9") == 2 * FIRST_WAIT_SECONDS
    clock.advance(WINDOW_SECONDS + 1)
    assert throttle.wait_seconds("203.0.113.9") is None
    throttle.failed("203.0.113.9")
    assert throttle.wait_seconds("203.0.113.9") is None


def test_a_success_clears_the_clients_failures():
    throttle = SignInThrottle(failures_allowed=1, clock=FakeClock())
    throttle.failed("203.0.113.9")
    throttle.succeeded("203.0.113.9")
    assert throttle.wait_seconds("203.0.113.9") is None


def test_the_throttle_remembers_a_bounded_number_of_clients(monkeypatch):
    from bot.gateway.console import sign_in_throttle

    monkeypatch.setattr(sign_in_throttle, "MAX_CLIENTS", 5)
    throttle = SignInThrottle(failures_allowed=1, clock=FakeClock())
    for number in range(50):
        throttle.failed(f"client-{number}")
    assert len(throttle._failures) == 5


def test_production_sends_hsts_and_secure_cookies(tmp_path):
    settings = console_settings(tmp_path, environment="production", rasa_token="r" * 32,
                                gateway_secret="g" * 32, internal_api_token="i" * 32,
                                rasa_channel_token="c" * 32, action_server_token="a" * 32)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        add_staff(settings)
        page = client.get("/console/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert client.get("/").headers["strict-transport-security"]
        answer = sign_in(client)
        assert signed_in(answer) and "secure" in answer.headers["set-cookie"].lower()


def test_development_sends_no_hsts(console):
    assert "strict-transport-security" not in console.get("/console/login").headers
