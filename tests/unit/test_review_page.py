"""The review queue's console pages: maintainers only, decisions through CSRF-checked forms, the export,
escaping of what visitors typed, and an audit entry for every view and decision."""

from __future__ import annotations

import html
import re
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.gateway.app import create_app
from bot.store import AuditEntry, ReviewDecision, session_scope
from tests.support.console_client import add_staff, audit_actions, console_settings, post, sign_in
from tests.support.tracker_seed import save_messages

START = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
INJECTED = "<script>alert(1)</script> what is iop"
MESSAGES = [
    ("conv-r", "c1", "do u take my insurence", {"intent": {"name": "ask_insurance", "confidence": 0.4},
                                               "intent_ranking": [{"name": "ask_insurance", "confidence": 0.4}]}),
    ("conv-r", "c2", INJECTED, {"intent": {"name": "ask_iop", "confidence": 0.9}, "intent_ranking": []}),
]


@pytest.fixture
def settings(tmp_path):
    (tmp_path / "nlu").mkdir()
    return console_settings(tmp_path, staff_hours="", tracker_db_url=f"sqlite:///{tmp_path / 'tracker.db'}",
                            reviewed_nlu_file=tmp_path / "nlu" / "reviewed.yml")


@pytest.fixture
def ids(settings):
    return save_messages(settings.tracker_db_url, MESSAGES, START)


@contextmanager
def signed_in(settings, **roles) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        add_staff(settings, **roles)
        sign_in(client)
        yield client


@pytest.mark.parametrize("roles, allowed", [({}, False), ({"maintainer": True}, True), ({"admin": True}, True)])
def test_only_maintainers_and_admins_reach_the_queue(settings, ids, roles, allowed):
    with signed_in(settings, **roles) as client:
        page = client.get("/console/review")
        assert page.status_code == (200 if allowed else 403)
        assert ("do u take my insurence" in page.text) is allowed
        assert ('href="/console/review"' in client.get("/console").text) is allowed
        decided = post(client, "/console/review/decide", conversation_id="conv-r", event_id=str(ids["c1"]),
                       decision="relabel", intent="ask_insurance")
        assert decided.status_code == (303 if allowed else 403)
        assert (post(client, "/console/review/export").status_code == 200) is allowed


def test_relabel_then_export_from_the_pages(settings, ids):
    with signed_in(settings, maintainer=True) as client:
        page = client.get("/console/review?filter=low_confidence")
        assert "do u take my insurence" in page.text and "what is iop" not in page.text
        decided = post(client, "/console/review/decide", conversation_id="conv-r", event_id=str(ids["c1"]),
                       decision="relabel", intent="ask_insurance", filter="low_confidence")
        assert decided.headers["location"] == f"/console/review?filter=low_confidence#message-{ids['c1']}"
        shown = " ".join(client.get("/console/review").text.split())
        assert "relabel as <strong>ask_insurance</strong>, by Ana" in shown
        exported = post(client, "/console/review/export")
        assert re.search(r"1 new examples written to reviewed.yml", exported.text)
        assert "- do u take my insurence" in settings.reviewed_nlu_file.read_text()
        assert "(exported)" in client.get("/console/review").text
        assert [action for action in audit_actions(settings) if action.startswith("review.")] == [
            "review.view", "review.decide", "review.view", "review.export", "review.view"]


def test_what_a_visitor_typed_is_escaped(settings, ids):
    with signed_in(settings, maintainer=True) as client:
        page = client.get("/console/review").text
        assert INJECTED not in page and html.escape(INJECTED, quote=False) in page


@pytest.mark.parametrize("fields, status", [
    ({"conversation_id": "conv-r", "event_id": "x", "decision": "correct"}, 400),
    ({"conversation_id": "conv-r", "event_id": "999999", "decision": "correct"}, 400),
    ({"conversation_id": "conv-r", "event_id": "1" * 40, "decision": "correct"}, 400),
])
def test_bad_decisions_are_refused_and_nothing_is_stored(settings, ids, fields, status):
    with signed_in(settings, maintainer=True) as client:
        assert post(client, "/console/review/decide", **fields).status_code == status
        with session_scope(settings.app_db_url) as session:
            assert session.query(ReviewDecision).count() == 0


def test_a_form_without_the_session_token_is_refused(settings, ids):
    with signed_in(settings, maintainer=True) as client:
        refused = client.post("/console/review/decide", data={"conversation_id": "conv-r", "event_id": str(ids["c1"]),
                                                              "decision": "correct"}, follow_redirects=False)
        assert refused.status_code == 403


def test_a_bad_filter_is_a_clear_error(settings, ids):
    with signed_in(settings, maintainer=True) as client:
        assert client.get("/console/review?filter=everything").status_code == 400
        assert client.get("/console/review?before=abc").status_code == 400


def test_a_messages_conversation_opens_read_only_and_the_view_is_audited(settings, ids):
    with signed_in(settings, maintainer=True) as client:
        queue = client.get("/console/review").text
        assert 'href="/console/review/conversations/conv-r"' in queue
        page = client.get("/console/review/conversations/conv-r")
        assert page.status_code == 200
        assert "do u take my insurence" in page.text and html.escape(INJECTED, quote=False) in page.text
        assert INJECTED not in page.text and "<form" not in page.text.split("<main>")[1]
        assert client.get("/console/review/conversations/conv-none").status_code == 404
        assert client.get("/console/review/conversations/" + "x" * 200).status_code == 400
    with session_scope(settings.app_db_url) as session:
        viewed = session.execute(select(AuditEntry.conversation_id).where(
            AuditEntry.action == "review.view_transcript")).scalars().all()
    assert viewed == ["conv-r", "conv-none"]


def test_staff_without_the_role_cannot_open_a_conversation_from_the_queue(settings, ids):
    with signed_in(settings) as client:
        assert client.get("/console/review/conversations/conv-r").status_code == 403
