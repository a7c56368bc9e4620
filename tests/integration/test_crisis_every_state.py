"""A crisis gets 988 and 911 at once in every state a conversation can be in.

Rasa answers a crisis by rule, but skips prediction while a conversation is paused for staff and
cannot answer when it is down or slow; the gateway then answers itself. Each test puts one
conversation in one state, through the real rasa server, action server and gateway, and checks
what the visitor sees, what staff see (the urgent alert, the transcript) and the handoff.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update

from bot.gateway.visitor.safety_net import SENT_BY
from bot.store import Handoff, handoffs, session_scope, utcnow
from devtools.local_stack import free_port
from tests.support.app_db import set_staff_online
from tests.support.gateway import gateway_for
from tests.support.sockets import ask, hello

pytestmark = pytest.mark.integration

CRISIS = "i want to kill myself"
EMERGENCY = "my friend took too many pills and wont wake up"


@pytest.fixture(scope="module")
def gateway(stack):
    with gateway_for(stack) as client:
        yield client


@pytest.fixture
def staff_online(stack):
    set_staff_online(stack, True)
    yield
    set_staff_online(stack, False)


@pytest.fixture
def console_events(gateway) -> Iterator[List[Dict[str, Any]]]:
    """What the console hears over the gateway's event bus while the test runs."""
    heard: List[Dict[str, Any]] = []

    async def listen(event: Dict[str, Any]) -> None:
        if event.get("kind") == "console":
            heard.append(event["frame"])

    gateway.app.state.bus.subscribe(listen)
    yield heard
    gateway.app.state.bus._handlers.remove(listen)


def the_handoff(stack, conversation_id: str):
    with session_scope(stack.settings.app_db_url) as session:
        handoff = session.execute(select(Handoff).where(Handoff.conversation_id == conversation_id)
                                  .order_by(Handoff.id.desc())).scalars().first()
        return None if handoff is None else (handoff.id, handoff.status, handoff.priority)


def eventually(read: Callable[[], Any], expected: Any, seconds: float = 10) -> None:
    """The gateway answers the visitor first and tells staff after, so staff-side state is awaited."""
    deadline = time.monotonic() + seconds
    while (value := read()) != expected:
        assert time.monotonic() < deadline, f"still {value!r}, expected {expected!r}"
        time.sleep(0.05)


def assert_crisis_answer(frames: List[Dict[str, Any]], emergency: bool = False) -> None:
    answer = frames[-1]
    assert answer["type"] == "bot", frames
    assert answer["urgent"] is True
    text = " ".join(message["text"] for message in answer["messages"])
    assert "911" in text
    assert ("1-800-222-1222" if emergency else "988") in text


def assistant_lines(stack, conversation_id: str) -> List[Dict[str, Any]]:
    return [event for event in stack.events(conversation_id)
            if event["event"] == "bot" and (event.get("metadata") or {}).get("sent_by") == SENT_BY]


def waiting_for_staff(ws) -> str:
    conversation_id = hello(ws)["conversation_id"]
    ask(ws, "can i talk to a real person")
    return conversation_id


def test_fresh_conversation_rasa_answers_the_crisis_and_queues_it_urgent(gateway, stack):
    with gateway.websocket_connect("/ws") as ws:
        conversation_id = hello(ws)["conversation_id"]
        assert_crisis_answer(ask(ws, CRISIS))
    assert the_handoff(stack, conversation_id)[2] == "urgent"
    assert assistant_lines(stack, conversation_id) == []  # Rasa answered, not the safety net


def test_mid_form_the_crisis_is_answered_and_the_form_ends(gateway, stack):
    with gateway.websocket_connect("/ws") as ws:
        conversation_id = hello(ws)["conversation_id"]
        ask(ws, "can someone call me back")
        ask(ws, "yes")
        assert_crisis_answer(ask(ws, CRISIS))
        assert "first name" not in json.dumps(ask(ws, "what is iop")[-1]).lower()
    assert the_handoff(stack, conversation_id)[2] == "urgent"


@pytest.mark.parametrize("message, emergency", [(CRISIS, False), (EMERGENCY, True)])
def test_waiting_for_staff_the_gateway_answers_and_raises_the_handoff_to_urgent(
        gateway, stack, staff_online, console_events, message, emergency):
    with gateway.websocket_connect("/ws") as ws:
        conversation_id = waiting_for_staff(ws)
        handoff_id, status, priority = the_handoff(stack, conversation_id)
        assert (status, priority) == ("waiting", "normal")
        assert_crisis_answer(ask(ws, message), emergency)
    eventually(lambda: the_handoff(stack, conversation_id), (handoff_id, "waiting", "urgent"))
    escalated = {"type": "queue", "reason": "escalated", "handoff_id": handoff_id, "priority": "urgent"}
    eventually(lambda: escalated in console_events, True)
    said = [frame for frame in console_events if frame["type"] == "message" and frame["role"] == "bot"]
    assert said and "911" in said[0]["text"]
    recorded = assistant_lines(stack, conversation_id)
    assert len(recorded) == 1 and "911" in recorded[0]["text"]
    assert recorded[0]["data"]["custom"]["urgent"] is True


def test_with_staff_the_gateway_answers_and_staff_see_it_in_the_transcript(gateway, stack, staff_online,
                                                                          console_events):
    from tests.support.console_client import add_staff

    with gateway.websocket_connect("/ws") as ws:
        conversation_id = waiting_for_staff(ws)
        handoff_id = the_handoff(stack, conversation_id)[0]
        staff_id = add_staff(stack.settings, email=f"staff-{handoff_id}@example.org")
        with session_scope(stack.settings.app_db_url) as session:
            handoffs.claim(session, handoff_id, staff_id)
        assert_crisis_answer(ask(ws, CRISIS))
    eventually(lambda: the_handoff(stack, conversation_id), (handoff_id, "active", "urgent"))
    eventually(lambda: any(frame.get("reason") == "escalated" for frame in console_events), True)
    transcript = [event.get("text") for event in stack.events(conversation_id) if event["event"] in ("user", "bot")]
    assert transcript.index(CRISIS) < max(i for i, text in enumerate(transcript) if text and "988" in text)


def test_after_a_gateway_restart_a_paused_conversation_still_gets_the_answer(stack, staff_online):
    with gateway_for(stack) as first, first.websocket_connect("/ws") as ws:
        conversation_id = waiting_for_staff(ws)
    with gateway_for(stack) as restarted, restarted.websocket_connect("/ws") as ws:
        assert hello(ws, conversation_id)["restored"] is True
        assert_crisis_answer(ask(ws, CRISIS))
    eventually(lambda: the_handoff(stack, conversation_id)[2], "urgent")


def test_with_rasa_down_the_gateway_answers_and_queues_an_urgent_handoff(stack):
    with gateway_for(stack, rasa_port=free_port()) as down, down.websocket_connect("/ws") as ws:
        conversation_id = hello(ws)["conversation_id"]
        assert_crisis_answer(ask(ws, CRISIS))
        frames = ask(ws, "what is iop")
        assert frames[-1]["code"] == "assistant_unavailable" and "988" in frames[-1]["message"]
        assert down.app.state.metrics.value("gateway_crisis_answers") == 1
    eventually(lambda: the_handoff(stack, conversation_id)[1:], ("waiting", "urgent"))


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers: a Rasa that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: List[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def test_with_rasa_hanging_the_crisis_answer_comes_within_the_crisis_deadline(stack):
    with silent_server() as port, gateway_for(stack, rasa_port=port, rasa_timeout_seconds=8,
                                               crisis_reply_seconds=1) as slow:
        with slow.websocket_connect("/ws") as ws:
            hello(ws)
            # The deadline of this read is shorter than Rasa's timeout: only the gateway can answer in time.
            assert_crisis_answer(ask(ws, CRISIS, timeout=5))


def test_with_the_app_db_failing_the_visitor_still_gets_the_crisis_answer(gateway, stack, staff_online,
                                                                         monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("UPDATE handoffs", {}, Exception("database is down"))

    with gateway.websocket_connect("/ws") as ws:
        waiting_for_staff(ws)
        failures = gateway.app.state.metrics.value("visitor_message_failures")
        monkeypatch.setattr(handoffs, "raise_to_urgent", broken)
        assert_crisis_answer(ask(ws, CRISIS))
    eventually(lambda: gateway.app.state.metrics.value("visitor_message_failures"), failures + 1)
    assert "database is down" in caplog.text


def backdate(stack, conversation_id: str, seconds: float) -> None:
    """Move a conversation's events into the past, as if the visitor had been away that long."""
    engine = sa.create_engine(stack.settings.tracker_db_url)
    events = sa.Table("events", sa.MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        rows = connection.execute(select(events.c.id, events.c.data)
                                  .where(events.c.sender_id == conversation_id)).all()
        for row in rows:
            data = json.loads(row.data)
            data["timestamp"] -= seconds
            connection.execute(events.update().where(events.c.id == row.id)
                               .values(timestamp=data["timestamp"], data=json.dumps(data)))
    engine.dispose()


def test_a_session_that_expires_while_staff_have_it_stays_with_staff(gateway, stack, staff_online):
    with gateway.websocket_connect("/ws") as ws:
        conversation_id = waiting_for_staff(ws)
        backdate(stack, conversation_id, 2 * 3600)  # past session_expiration_time (60 min)
        answer = ask(ws, "are you still there?")[-1]
        assert answer["messages"] == []  # recorded for staff; the bot does not take over
        events = stack.events(conversation_id)
        assert [e["event"] for e in events].count("session_started") == 2
        assert stack_tracker_paused(stack, conversation_id)
        assert_crisis_answer(ask(ws, CRISIS))
    eventually(lambda: the_handoff(stack, conversation_id)[1:], ("waiting", "urgent"))


def test_a_conversation_left_paused_by_an_ended_handoff_is_switched_back_on(gateway, stack, staff_online):
    with gateway.websocket_connect("/ws") as ws:
        conversation_id = waiting_for_staff(ws)
        # The handoff expires while Rasa cannot be told: the tracker stays paused with nobody on it.
        with session_scope(stack.settings.app_db_url) as session:
            session.execute(update(Handoff).where(Handoff.conversation_id == conversation_id)
                            .values(status="expired", closed_at=utcnow()))
        answer = ask(ws, "what is iop")[-1]
        assert answer["type"] == "bot" and answer["messages"], answer
        assert gateway.app.state.metrics.value("stale_pauses_resumed") >= 1
        assert not stack_tracker_paused(stack, conversation_id)


def stack_tracker_paused(stack, conversation_id: str) -> bool:
    import requests

    response = requests.get(f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
                            params={"token": stack.settings.rasa_token}, timeout=10)
    return response.json()["paused"]


def test_a_conversation_rasa_never_saw_can_get_staff_replies_and_be_resumed(stack):
    """After the gateway answered with Rasa down, Rasa has no tracker for the conversation yet."""
    import asyncio
    import uuid

    from bot.gateway.rasa_client import RasaClient

    conversation_id = f"never-seen-{uuid.uuid4().hex}"

    async def staff_then_bot() -> None:
        rasa = RasaClient(stack.settings)
        try:
            await rasa.record_staff_message(conversation_id, "Hi, this is Ana from admissions.", "Ana")
            await rasa.resume(conversation_id, "The assistant is back.")
        finally:
            await rasa.close()

    asyncio.run(staff_then_bot())
    kinds = [(event["event"], event.get("text")) for event in stack.events(conversation_id)]
    assert kinds[:3] == [("action", None), ("session_started", None), ("bot", "Hi, this is Ana from admissions.")]
    assert ("resume", None) in kinds and kinds[-1] == ("action", None)
