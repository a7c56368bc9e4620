"""No visitor message is dropped silently: faults injected on the visitor path still get an answer.

Each test breaks one part the gateway relies on (the Rasa client, the transcript conversion, the
rate limiter, the reply memory, the crisis detector) inside a real gateway talking to the real
servers, and checks that the visitor gets the `assistant_unavailable` answer (a person to reach,
988 and 911) or the crisis answer, that one line is logged with the conversation id and the
exception, and that the failure is counted on /metrics.
"""

from __future__ import annotations

import asyncio
import gc

import pytest

from bot.gateway.visitor import relay as visitor_relay, websocket as visitor_socket
from tests.support.gateway import gateway_for
from tests.support.sockets import ask, hello, receive_json

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway(stack):
    with gateway_for(stack) as client:
        yield client


def failures(gateway) -> int:
    return gateway.app.state.metrics.value("visitor_message_failures")


def broken(message: str):
    def fail(*args, **kwargs):
        raise RuntimeError(message)

    return fail


def async_broken(message: str):
    async def fail(*args, **kwargs):
        raise RuntimeError(message)

    return fail


def assert_unavailable_answer(frames, gateway=None) -> None:
    """`ask` returns once the frame answering its message (same client_id) arrives."""
    answer = frames[-1]
    assert answer["type"] == "error" and answer["code"] == "assistant_unavailable", frames
    assert "988" in answer["message"] and "911" in answer["message"]
    if gateway is not None:  # the knowledge file's words, rendered as the actions render them
        assert answer["message"] == gateway.app.state.texts.message("assistant_unavailable")


def assert_logged_once(caplog, conversation_id: str, exception: str) -> None:
    lines = [record.getMessage() for record in caplog.records if "visitor message failed" in record.getMessage()]
    assert len(lines) == 1, lines
    assert conversation_id in lines[0] and exception in lines[0]


@pytest.mark.parametrize("part", ["rasa_client", "transcript", "limiter", "reply_memory"])
def test_a_fault_anywhere_on_the_visitor_path_still_answers_logs_and_counts(gateway, monkeypatch, caplog, part):
    hub = gateway.app.state.hub
    faults = {
        "rasa_client": lambda: monkeypatch.setattr(hub.rasa, "send", async_broken("rasa client exploded")),
        "transcript": lambda: monkeypatch.setattr(visitor_relay, "bot_messages", broken("transcript exploded")),
        # The last release's bug: the limiter raised AttributeError once the gateway was a minute old.
        "limiter": lambda: monkeypatch.setattr(hub.rate_limit, "retry_after", broken("limiter exploded")),
        "reply_memory": lambda: monkeypatch.setattr(hub.replies, "put", broken("reply memory exploded")),
    }
    with gateway.websocket_connect("/ws") as ws:
        conversation_id = hello(ws)["conversation_id"]
        before = failures(gateway)
        faults[part]()
        assert_unavailable_answer(ask(ws, "is kratom addictive"), gateway)
        assert failures(gateway) == before + 1
        assert_logged_once(caplog, conversation_id, "exploded")
        # The socket is still usable: a ping is answered.
        ws.send_json({"type": "ping"})
        while receive_json(ws)["type"] != "pong":
            pass


@pytest.mark.parametrize("part", ["rasa_client", "transcript", "limiter"])
def test_a_crisis_meeting_a_fault_still_gets_the_crisis_answer(gateway, monkeypatch, part):
    hub = gateway.app.state.hub
    faults = {
        "rasa_client": lambda: monkeypatch.setattr(hub.rasa, "send", async_broken("rasa client exploded")),
        "transcript": lambda: monkeypatch.setattr(visitor_relay, "bot_messages", broken("transcript exploded")),
        "limiter": lambda: monkeypatch.setattr(hub.rate_limit, "retry_after", broken("limiter exploded")),
    }
    with gateway.websocket_connect("/ws") as ws:
        hello(ws)
        faults[part]()
        answer = ask(ws, "i want to end my life")[-1]
    assert answer["type"] == "bot" and answer["urgent"] is True
    assert "988" in answer["messages"][0]["text"] and "911" in answer["messages"][0]["text"]


def test_a_broken_crisis_detector_still_gives_the_unavailable_answer(gateway, monkeypatch, caplog):
    monkeypatch.setattr(gateway.app.state.hub.safety, "detect", broken("detector exploded"))
    with gateway.websocket_connect("/ws") as ws:
        hello(ws)
        assert_unavailable_answer(ask(ws, "hello"))
    assert "detector exploded" in caplog.text


def test_a_fault_while_saying_hello_answers_and_keeps_the_socket_open(gateway, monkeypatch):
    with gateway.websocket_connect("/ws") as ws:
        conversation_id = hello(ws)["conversation_id"]
    monkeypatch.setattr(visitor_socket.rasa_events, "latest_visible_events", broken("tracker read exploded"))
    with gateway.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello", "conversation_id": conversation_id})
        assert receive_json(ws)["code"] == "assistant_unavailable"
        ws.send_json({"type": "ping"})
        assert receive_json(ws) == {"type": "pong"}


def test_failures_are_counted_on_metrics_and_readyz(gateway, monkeypatch, stack):
    monkeypatch.setattr(gateway.app.state.hub.rasa, "send", async_broken("rasa client exploded"))
    with gateway.websocket_connect("/ws") as ws:
        hello(ws)
        ask(ws, "what is iop")
    assert gateway.get("/metrics").status_code == 401
    metrics = gateway.get("/metrics", headers={"Authorization": f"Bearer {stack.settings.internal_api_token}"}).text
    assert f"engage_gateway_visitor_message_failures_total {failures(gateway)}" in metrics
    assert failures(gateway) >= 1
    assert gateway.get("/readyz").json()["visitor_message_failures"] == failures(gateway)


def test_an_error_in_a_task_nobody_awaits_is_logged_and_counted(gateway, caplog):
    async def orphan() -> None:
        async def explode() -> None:
            raise RuntimeError("nobody awaited me")

        asyncio.get_running_loop().create_task(explode())
        await asyncio.sleep(0.05)

    gateway.portal.call(orphan)
    gc.collect()
    assert gateway.app.state.metrics.value("unretrieved_task_errors") == 1
    assert "nobody awaited me" in caplog.text


def test_shutdown_waits_for_the_messages_being_answered(stack, monkeypatch):
    """A gateway stopping (a deploy) finishes what it is answering instead of cutting it off."""
    import time

    with gateway_for(stack) as client:
        hub = client.app.state.hub
        send = hub.rasa.send

        async def slow_send(*args, **kwargs):
            await asyncio.sleep(1.5)
            return await send(*args, **kwargs)

        monkeypatch.setattr(hub.rasa, "send", slow_send)
        with client.websocket_connect("/ws") as ws:
            conversation_id = hello(ws)["conversation_id"]
            ws.send_json({"type": "message", "client_id": "c-shutdown", "text": "what is iop"})
            assert receive_json(ws)["type"] == "ack"
        started = time.monotonic()
    # Leaving the client ran the app's shutdown, which waited for the answer to be worked out.
    assert time.monotonic() - started >= 1.0
    assert hub.replies.get(conversation_id, "c-shutdown") is not None
