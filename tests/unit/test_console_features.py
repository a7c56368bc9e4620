"""The console's callbacks, contact details, canned replies, notes, presence, queue details and
live updates, with the gateway in-process on a SQLite app DB. The transcript pages, which need the
real Rasa server, are covered in test_console_round_trip.py and test_browser_console.py."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.domain.handoffs.hours import StaffHours
from bot.domain.handoffs.lifecycle import PRESENCE_TIMEOUT
from bot.gateway.app import create_app
from bot.gateway.console.live import NOT_SIGNED_IN
from bot.store import (
    AuditEntry,
    CallbackRequest,
    CannedReply,
    Handoff,
    Note,
    StaffMember,
    handoffs,
    session_scope,
    utcnow,
)
from tests.support.console_client import add_staff, audit_actions, console_settings, post, sign_in
from tests.support.sockets import receive_json

INTERNAL = {"authorization": "Bearer dev-internal-token-change-me"}


@pytest.fixture
def settings(tmp_path):
    return console_settings(tmp_path, staff_hours="")


@pytest.fixture
def console(settings):
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        add_staff(settings)
        sign_in(client)
        yield client


def live(console):
    return console.websocket_connect("/console/ws", headers={"origin": "http://testserver"})


def internal(console, path: str) -> str:
    """The internal API's address: its own loopback listener, not the public one."""
    return f"http://127.0.0.1:{console.app.state.settings.internal_api_port}{path}"


def store_callback(console, conversation_id="conv-cb", first_name="Jordan", contact="(314) 555-0142"):
    response = console.post(internal(console, "/internal/callbacks"), headers=INTERNAL, json={
        "conversation_id": conversation_id, "first_name": first_name, "contact": contact, "best_time": "mornings"})
    assert response.status_code == 200
    return response.json()["callback_id"]


def test_contact_details_show_only_on_request_and_the_view_is_audited(console, settings):
    callback_id = store_callback(console)
    listing = console.get("/console/callbacks").text
    assert "Show contact details" in listing and "Jordan" not in listing and "555-0142" not in listing
    assert audit_actions(settings)[-1] == "console.view_callbacks"
    shown = post(console, f"/console/callbacks/{callback_id}/contact")
    text = html.unescape(shown.text)
    assert shown.status_code == 200 and "Jordan" in text and "(314) 555-0142" in text and "mornings" in text
    with session_scope(settings.app_db_url) as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "console.view_contact")).scalar_one()
        assert entry.conversation_id == "conv-cb" and "Jordan" not in entry.detail and "555" not in entry.detail
    assert post(console, "/console/callbacks/999/contact").status_code == 404


def test_closing_a_callback_moves_it_to_closed_once(console, settings):
    callback_id = store_callback(console)
    assert post(console, f"/console/callbacks/{callback_id}/close").status_code == 303
    with session_scope(settings.app_db_url) as session:
        callback = session.get(CallbackRequest, callback_id)
        assert callback.status == "closed" and callback.closed_by is not None and callback.closed_at is not None
    page = console.get("/console/callbacks").text
    assert "No open callback requests." in page and 'data-testid="closed-callbacks"' in page
    assert post(console, f"/console/callbacks/{callback_id}/close").status_code == 409
    assert audit_actions(settings).count("console.close_callback") == 1


def test_the_queue_counts_open_callbacks(console):
    store_callback(console)
    store_callback(console, conversation_id="conv-other")
    assert "Callback requests</a>: 2 open." in console.get("/console").text


def test_canned_replies_are_added_listed_offered_and_deleted(console, settings):
    assert post(console, "/console/canned", title="Hours", text="We answer chats 8 to 6.").status_code == 303
    assert "We answer chats 8 to 6." in console.get("/console/canned").text
    assert post(console, "/console/canned", title="", text="no title").status_code == 400
    assert post(console, "/console/canned", title="Long", text="x" * 2001).status_code == 400
    with session_scope(settings.app_db_url) as session:
        reply_id = session.execute(select(CannedReply.id)).scalar_one()
    assert post(console, f"/console/canned/{reply_id}/delete").status_code == 303
    assert "No canned replies yet." in console.get("/console/canned").text
    assert audit_actions(settings).count("console.add_canned") == 1
    assert audit_actions(settings).count("console.delete_canned") == 1


def test_a_note_is_stored_for_staff_and_audited_without_its_text(console, settings):
    with session_scope(settings.app_db_url) as session:
        handoff_id = handoffs.open_handoff(session, "conv-note", "request_human", "normal", None).id
    response = post(console, f"/console/handoffs/{handoff_id}/notes", text="Prefers evening calls.")
    assert response.status_code == 303
    assert post(console, f"/console/handoffs/{handoff_id}/notes", text="   ").status_code == 400
    assert post(console, "/console/handoffs/999/notes", text="nowhere").status_code == 404
    with session_scope(settings.app_db_url) as session:
        note = session.execute(select(Note)).scalar_one()
        assert (note.text, note.conversation_id, note.handoff_id) == ("Prefers evening calls.", "conv-note", handoff_id)
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "console.note")).scalar_one()
        assert "evening" not in entry.detail


def test_a_reply_that_cannot_reach_the_transcript_is_not_sent_and_the_log_says_so(console, settings):
    """No rasa server runs here, so saving the reply to the tracker fails, as when Rasa is down."""
    with session_scope(settings.app_db_url) as session:
        handoff_id = handoffs.open_handoff(session, "conv-reply", "request_human", "normal", None).id
    assert post(console, f"/console/handoffs/{handoff_id}/claim").status_code == 303
    response = post(console, f"/console/handoffs/{handoff_id}/reply", text="Hi, this is Ana.")
    assert response.status_code == 503 and "could not be saved to the transcript" in html.unescape(response.text)
    actions = audit_actions(settings)
    assert actions[actions.index("console.reply"):] == ["console.reply", "console.reply_failed"]
    with session_scope(settings.app_db_url) as session:
        failed = session.execute(select(AuditEntry).where(AuditEntry.action == "console.reply_failed")).scalar_one()
        assert (failed.conversation_id, failed.detail) == ("conv-reply", f"handoff {handoff_id}")
        assert "Ana." not in failed.detail


def test_away_staff_are_not_waited_for(console, settings):
    hours = StaffHours.from_settings(settings)
    with session_scope(settings.app_db_url) as session:
        assert handoffs.staff_available(session, utcnow(), hours)
    assert post(console, "/console/presence", presence="away").status_code == 303
    with session_scope(settings.app_db_url) as session:
        assert not handoffs.staff_available(session, utcnow(), hours)
    assert post(console, "/console/presence", presence="asleep").status_code == 400
    post(console, "/console/presence", presence="online")
    with session_scope(settings.app_db_url) as session:
        assert handoffs.staff_available(session, utcnow(), hours)


def test_a_request_that_finds_nobody_opens_no_handoff_but_is_recorded_for_the_reports(console, settings):
    post(console, "/console/presence", presence="away")
    request = {"conversation_id": "conv-nobody", "reason": "visitor asked for a person", "priority": "normal",
               "last_intent": "request_human"}
    response = console.post(internal(console, "/internal/handoffs"), headers=INTERNAL, json=request)
    assert response.json() == {"status": "unavailable"}
    urgent = console.post(internal(console, "/internal/handoffs"), headers=INTERNAL,
                          json={**request, "conversation_id": "conv-urgent", "priority": "urgent"})
    assert urgent.json()["status"] == "unavailable" and urgent.json()["handoff_id"]
    with session_scope(settings.app_db_url) as session:
        assert [h.conversation_id for h in session.execute(select(Handoff)).scalars()] == ["conv-urgent"]
        unstaffed = session.execute(select(AuditEntry).where(AuditEntry.action == handoffs.UNSTAFFED_REQUEST))
        assert [(e.conversation_id, e.detail, e.staff_id) for e in unstaffed.scalars()] == [
            ("conv-nobody", "reason=visitor asked for a person", None)]


def test_long_waits_are_highlighted_and_the_last_visitor_message_shown(console, settings):
    with session_scope(settings.app_db_url) as session:
        old = handoffs.open_handoff(session, "conv-old", "request_human", "normal", None,
                                    now=utcnow() - timedelta(minutes=settings.waiting_highlight_minutes + 2))
        handoffs.open_handoff(session, "conv-new", "fallback", "normal", None)
        handoffs.note_visitor_message(session, "conv-old", "are you   still there?")
        old_id = old.id
    rows = console.get("/console/queue/rows").text
    assert audit_actions(settings)[-1] == "console.refresh_queue"
    overdue = rows[rows.index(f'data-handoff="{old_id}"') - 40:rows.index(f'data-handoff="{old_id}"')]
    assert "overdue" in overdue and rows.count("overdue") == 1
    assert "are you still there?" in rows


def test_a_new_handoff_reaches_open_consoles_live(console, settings):
    with live(console) as socket:
        response = console.post(internal(console, "/internal/handoffs"), headers=INTERNAL, json={
            "conversation_id": "conv-live", "reason": "crisis_self_harm", "priority": "urgent",
            "last_intent": "crisis_self_harm"})
        handoff_id = response.json()["handoff_id"]
        assert receive_json(socket) == {"type": "queue", "reason": "opened", "handoff_id": handoff_id,
                                         "priority": "urgent"}
        post(console, f"/console/handoffs/{handoff_id}/claim")
        assert receive_json(socket)["reason"] == "claimed"


def test_a_visitor_message_to_a_person_reaches_the_console_live(console, settings):
    with session_scope(settings.app_db_url) as session:
        handoffs.open_handoff(session, "conv-talk", "request_human", "normal", None)
    hub = console.app.state.staff_hub
    with live(console) as socket:
        console.portal.call(hub.visitor_wrote, "conv-talk", "my insurance is Cigna", 1.0)
        assert receive_json(socket) == {"type": "message", "conversation_id": "conv-talk", "role": "visitor",
                                         "text": "my insurance is Cigna", "ts": 1.0}
        assert receive_json(socket)["reason"] == "visitor_message"
        # A conversation without a handoff tells the console nothing.
        console.portal.call(hub.visitor_wrote, "conv-bot-only", "hello", 2.0)
        socket.send_text('{"type":"ping"}')
        assert receive_json(socket) == {"type": "pong"}
    with session_scope(settings.app_db_url) as session:
        assert session.execute(select(Handoff.last_visitor_message)
                               .where(Handoff.conversation_id == "conv-talk")).scalar_one() == "my insurance is Cigna"


def test_the_live_socket_keeps_presence_fresh(console, settings):
    hours = StaffHours.from_settings(settings)
    stale = utcnow() - PRESENCE_TIMEOUT - timedelta(minutes=1)
    with session_scope(settings.app_db_url) as session:
        session.execute(update(StaffMember).values(last_seen=stale))
        assert not handoffs.staff_available(session, utcnow(), hours)
    with live(console) as socket:
        socket.send_text('{"type":"ping"}')
        receive_json(socket)
    with session_scope(settings.app_db_url) as session:
        assert handoffs.staff_available(session, utcnow(), hours)


def test_an_open_live_socket_is_cut_off_when_the_account_is_disabled(console, settings):
    with live(console) as socket:
        socket.send_text('{"type":"ping"}')
        assert receive_json(socket) == {"type": "pong"}
        with session_scope(settings.app_db_url) as session:
            session.execute(update(StaffMember).values(disabled_at=utcnow(), sessions_revoked_at=utcnow()))
        socket.send_text('{"type":"ping"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            receive_json(socket)
    assert closed.value.code == NOT_SIGNED_IN
