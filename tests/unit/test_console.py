"""The staff console's sign-in, CSRF protection, lockout, queue and audit log (gateway in-process)."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.domain.handoffs.hours import StaffHours
from bot.gateway.app import create_app
from bot.store import StaffMember, handoffs, session_scope, utcnow
from tests.support.console_client import PASSWORD, add_staff, audit_actions, console_settings, csrf_from, sign_in


@pytest.fixture
def settings(tmp_path):
    return console_settings(tmp_path)


@pytest.fixture
def console(settings):
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        add_staff(settings)
        yield client


def test_the_queue_needs_a_signed_in_person(console):
    response = console.get("/console", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"


def test_a_forged_session_cookie_is_refused(console):
    console.cookies.set("ew_staff", "eyJzdGFmZl9pZCI6MX0.forged.signature")
    assert console.get("/console", follow_redirects=False).status_code == 303


def test_sign_in_shows_the_queue_with_urgent_first_and_is_audited(console, settings):
    with session_scope(settings.app_db_url) as session:
        handoffs.open_handoff(session, "conv-normal", "visitor asked for a person", "normal", "request_human")
        handoffs.open_handoff(session, "conv-urgent", "crisis_self_harm", "urgent", "crisis_self_harm")
    response = sign_in(console)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    page = console.get("/console").text
    assert "Signed in as Ana" in page
    assert page.index("crisis_self_harm") < page.index("visitor asked for a person")
    assert audit_actions(settings)[-2:] == ["console.login", "console.view_queue"]


def test_sign_in_without_the_csrf_token_is_refused(console):
    console.get("/console/login")
    response = console.post("/console/login", data={"email": "ana@example.org", "password": PASSWORD},
                            follow_redirects=False)
    assert response.status_code == 403


def test_a_wrong_password_is_refused_and_five_lock_the_account(console, settings):
    for _ in range(5):
        assert sign_in(console, password="not the password at all").status_code == 401
    locked = sign_in(console)
    # The same answer as a wrong password: it must not tell a guesser which emails are accounts.
    assert locked.status_code == 401 and "locked" in locked.text
    assert audit_actions(settings).count("console.login_failed") == 5
    assert "console.login_locked" in audit_actions(settings)


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(console):
    response = sign_in(console, email="nobody@example.org")
    assert response.status_code == 401 and "email and password don't match" in html.unescape(response.text)


def test_sign_out_needs_the_csrf_token_and_sets_presence_offline(console, settings):
    sign_in(console)
    page = console.get("/console").text
    assert console.post("/console/logout", data={"csrf": "wrong"}, follow_redirects=False).status_code == 403
    response = console.post("/console/logout", data={"csrf": csrf_from(page)}, follow_redirects=False)
    assert response.status_code == 303
    with session_scope(settings.app_db_url) as session:
        assert session.execute(select(StaffMember.presence)).scalar_one() == "offline"
    assert console.get("/console", follow_redirects=False).status_code == 303


def test_signing_in_makes_staff_available_for_handoffs(console, settings):
    with session_scope(settings.app_db_url) as session:
        assert not handoffs.staff_available(session, utcnow(), StaffHours.from_settings(settings))
    sign_in(console)
    with session_scope(settings.app_db_url) as session:
        assert handoffs.staff_available(session, utcnow(), StaffHours.from_settings(settings))


def disable(settings, email="ana@example.org", **changes):
    with session_scope(settings.app_db_url) as session:
        member = session.execute(select(StaffMember).where(StaffMember.email == email)).scalar_one()
        for name, value in changes.items():
            setattr(member, name, value)


def test_disabling_an_account_ends_its_session_at_once_and_stops_sign_in(console, settings):
    sign_in(console)
    assert console.get("/console", follow_redirects=False).status_code == 200
    # As `python -m bot staff disable` does it.
    disable(settings, disabled_at=utcnow(), sessions_revoked_at=utcnow())
    assert console.get("/console", follow_redirects=False).status_code == 303
    refused = sign_in(console)
    assert refused.status_code == 401 and "don't match" in html.unescape(refused.text)
    assert audit_actions(settings)[-1] == "console.login_disabled"
    with session_scope(settings.app_db_url) as session:
        assert not handoffs.staff_available(session, utcnow(), StaffHours.from_settings(settings))
    disable(settings, disabled_at=None)
    assert sign_in(console).status_code == 303


def test_revoked_sessions_end_but_a_new_sign_in_works(console, settings):
    sign_in(console)
    disable(settings, sessions_revoked_at=utcnow())
    assert console.get("/console", follow_redirects=False).status_code == 303
    sign_in(console)
    assert console.get("/console", follow_redirects=False).status_code == 200


def test_taking_away_the_admin_role_takes_effect_at_once(console, settings):
    disable(settings, is_admin=True)
    sign_in(console)
    assert console.get("/console/audit").status_code == 200 and "Audit log</a>" in console.get("/console").text
    disable(settings, is_admin=False)
    assert console.get("/console/audit").status_code == 403 and "Audit log</a>" not in console.get("/console").text
