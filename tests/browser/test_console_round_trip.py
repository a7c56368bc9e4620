"""A visitor asks for a person; staff claim, reply and resolve in the console; the bot answers again."""

from __future__ import annotations

import asyncio
import html
import json
import time
import uuid

import pytest
import requests
import websockets
from sqlalchemy import select, update

from bot.domain.knowledge.loader import default as knowledge
from bot.store import AuditEntry, Handoff, StaffMember, session_scope
from tests.support.console_client import PASSWORD, add_staff, csrf_from, sign_in
from tests.support.sockets import receive_json, recv_json

pytestmark = pytest.mark.integration


class Staff:
    """A staff member's browser session against the real gateway."""

    def __init__(self, stack):
        self.base = stack.gateway_url
        self.http = requests.Session()

    def sign_in(self, email: str) -> None:
        token = csrf_from(self.http.get(f"{self.base}/console/login", timeout=10).text)
        response = self.http.post(f"{self.base}/console/login", timeout=10,
                                  data={"csrf": token, "email": email, "password": PASSWORD})
        assert "Signed in as" in response.text

    def post(self, path: str, **fields) -> requests.Response:
        page = self.http.get(f"{self.base}/console", timeout=10).text
        return self.http.post(f"{self.base}{path}", data={"csrf": csrf_from(page), **fields}, timeout=10)


async def next_bot_frame(ws) -> dict:
    while True:
        frame = await recv_json(ws, timeout=30)
        if frame["type"] == "bot" and frame["messages"]:
            return frame


def test_staff_take_over_reply_and_hand_back(stack):
    add_staff(stack.settings, email="round@example.org", name="Rosa")
    staff = Staff(stack)
    staff.sign_in("round@example.org")

    async def visit():
        async with websockets.connect(stack.gateway_url.replace("http", "ws") + "/ws") as ws:
            await ws.send(json.dumps({"type": "hello", "conversation_id": None,
                                      "page_url": "https://engage.example/kratom-withdrawal"}))
            conversation_id = (await recv_json(ws))["conversation_id"]
            await ws.send(json.dumps({"type": "message", "client_id": "c-1",
                                      "text": "i want to talk to a real person"}))
            waiting = await next_bot_frame(ws)
            assert waiting["messages"][-1]["text"] == knowledge().get("handoff_waiting").short

            with session_scope(stack.settings.app_db_url) as session:
                handoff_id = session.execute(
                    select(Handoff.id).where(Handoff.conversation_id == conversation_id)).scalar_one()
            assert (await asyncio.to_thread(staff.post, f"/console/handoffs/{handoff_id}/claim")).ok
            await ws.send(json.dumps({"type": "message", "client_id": "c-2", "text": "thanks, i'll wait"}))
            await asyncio.to_thread(staff.post, f"/console/handoffs/{handoff_id}/reply", text="Hi, this is Rosa.")
            staff_frame = await next_bot_frame(ws)
            assert staff_frame["role"] == "staff" and staff_frame["messages"][0]["text"] == "Hi, this is Rosa."

            await asyncio.to_thread(staff.post, f"/console/handoffs/{handoff_id}/notes", text="Asked about IOP.")
            page = html.unescape((await asyncio.to_thread(
                staff.http.get, f"{stack.gateway_url}/console/handoffs/{handoff_id}", timeout=10)).text)
            assert "thanks, i'll wait" in page and "Rosa:</strong> Hi, this is Rosa." in page
            assert "https://engage.example/kratom-withdrawal" in page and "UTC" in page
            assert "Asked about IOP." in page

            await asyncio.to_thread(staff.post, f"/console/handoffs/{handoff_id}/resolve")
            back = await next_bot_frame(ws)
            assert back["messages"][0]["text"] == knowledge().get("handoff_resolved").short
            await ws.send(json.dumps({"type": "message", "client_id": "c-3", "text": "what is iop"}))
            answer = await next_bot_frame(ws)
            assert answer["messages"][-1]["text"] == knowledge().get("iop").short
            return conversation_id

    try:
        conversation_id = asyncio.run(visit())
    finally:
        with session_scope(stack.settings.app_db_url) as session:
            session.execute(update(StaffMember).values(presence="offline"))

    events = stack.events(conversation_id)
    voices = [("staff" if (e.get("metadata") or {}).get("staff_name") else e["event"]) for e in events
              if e["event"] in ("user", "bot")]
    assert "user" in voices and "bot" in voices and "staff" in voices
    assert not any("Asked about IOP." in json.dumps(event) for event in events), "a note reached the tracker"
    staff_event = next(e for e in events if (e.get("metadata") or {}).get("staff_name"))
    assert staff_event["metadata"]["staff_name"] == "Rosa"
    with session_scope(stack.settings.app_db_url) as session:
        assert session.execute(select(Handoff.status).where(Handoff.id == handoff_id_of(session, conversation_id))
                               ).scalar_one() == "resolved"
        audited = set(session.execute(select(AuditEntry.action).where(AuditEntry.conversation_id == conversation_id))
                      .scalars())
    assert {"console.view_conversation", "console.reply", "console.note", "handoff.claim",
            "handoff.resolve"} <= audited


def handoff_id_of(session, conversation_id: str) -> int:
    return session.execute(select(Handoff.id).where(Handoff.conversation_id == conversation_id)).scalar_one()


def test_console_pages_refuse_without_sign_in(stack):
    for path in ("/console", "/console/handoffs/1"):
        response = requests.get(f"{stack.gateway_url}{path}", allow_redirects=False, timeout=10)
        assert response.status_code == 303 and response.headers["location"] == "/console/login"
    for action in ("claim", "reply", "resolve"):
        response = requests.post(f"{stack.gateway_url}/console/handoffs/1/{action}", data={"csrf": "x"}, timeout=10)
        assert response.status_code == 403


def test_a_staff_reply_reaches_a_visitor_on_another_gateway(stack, redis_url):
    """Two gateways behind a balancer: the visitor on one, staff on the other, events through Redis."""
    from starlette.testclient import TestClient

    from bot.gateway.app import create_app

    add_staff(stack.settings, email="two@example.org", name="Tomas")
    settings = stack.settings.copy(update={"redis_url": redis_url,
                                           "redis_channel": f"engage-test:{uuid.uuid4().hex}"})
    try:
        with TestClient(create_app(settings)) as visitor_gateway, TestClient(create_app(settings)) as staff_gateway:
            sign_in(staff_gateway, email="two@example.org")
            csrf = csrf_from(staff_gateway.get("/console").text)
            with visitor_gateway.websocket_connect("/ws") as ws:
                ws.send_json({"type": "hello", "conversation_id": None})
                conversation_id = receive_json(ws)["conversation_id"]
                ws.send_json({"type": "message", "client_id": "c-1", "text": "can i talk to a human"})
                while receive_json(ws)["type"] != "bot":
                    pass
                with session_scope(stack.settings.app_db_url) as session:
                    handoff_id = handoff_id_of(session, conversation_id)
                staff_gateway.post(f"/console/handoffs/{handoff_id}/claim", data={"csrf": csrf})
                staff_gateway.post(f"/console/handoffs/{handoff_id}/reply", data={"csrf": csrf, "text": "Tomas here."})
                frame = frame_before_deadline(ws, lambda frame: frame.get("role") == "staff")
                assert frame["messages"][0]["text"] == "Tomas here."
                staff_gateway.post(f"/console/handoffs/{handoff_id}/resolve", data={"csrf": csrf})
    finally:
        with session_scope(stack.settings.app_db_url) as session:
            session.execute(update(StaffMember).values(presence="offline"))


def frame_before_deadline(ws, wanted, seconds: float = 10) -> dict:
    """The first frame `wanted` accepts; pings between reads so a missing frame fails instead of hanging."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ws.send_json({"type": "ping"})
        while (frame := receive_json(ws))["type"] != "pong":
            if wanted(frame):
                return frame
        time.sleep(0.05)
    raise AssertionError(f"no such frame within {seconds} s")
