"""The gateway's visitor protocol against the real rasa and action servers (docs/chat-protocol.md)."""

from __future__ import annotations

import uuid
from typing import Any, Dict, List

import pytest

from bot.domain.knowledge.loader import default as knowledge
from bot.gateway.visitor import conversation_ids
from bot.gateway.visitor.texts import WIDGET_MESSAGES
from devtools.local_stack import free_port
from tests.support.gateway import gateway_for
from tests.support.sockets import hello, receive_json, receive_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(stack):
    with gateway_for(stack) as test_client:
        yield test_client


def ask(ws, text: str, **extra) -> List[Dict[str, Any]]:
    client_id = f"c-{uuid.uuid4().hex}"
    ws.send_json({"type": "message", "client_id": client_id, "text": text, **extra})
    frames = receive_until(ws, "bot")
    assert frames[-1]["reply_to"] == client_id
    return frames


def test_round_trip_ack_typing_answer(client):
    with client.websocket_connect("/ws") as ws:
        welcome = hello(ws)
        assert welcome["restored"] is False
        # The widget learns the limit and the words it shows on its own from the welcome.
        assert welcome["max_message_chars"] == client.app.state.settings.max_message_chars
        assert set(welcome["texts"]) == set(WIDGET_MESSAGES)
        assert welcome["texts"]["widget_send"] == client.app.state.texts.message("widget_send")
        assert conversation_ids.verify(client.app.state.hub.settings.gateway_secret, welcome["conversation_id"])
        frames = ask(ws, "is kratom addictive")
    kinds = [frame["type"] for frame in frames]
    assert kinds.index("ack") < kinds.index("typing") < kinds.index("bot")
    texts = [m["text"] for m in frames[-1]["messages"]]
    assert "automated assistant" in texts[0]
    assert knowledge().get("kratom_addiction").short in texts
    assert frames[-1]["urgent"] is False


def test_quick_reply_buttons_and_their_title_in_history(client):
    with client.websocket_connect("/ws") as ws:
        conversation_id = hello(ws)["conversation_id"]
        listing = ask(ws, "what therapies do you have")[-1]["messages"][-1]
        button = next(b for b in listing["buttons"] if b["title"] == knowledge().get("cbt").title)
        answer = ask(ws, button["payload"], display_text=button["title"])[-1]
        assert answer["messages"][-1]["text"] == knowledge().get("cbt").short
    with client.websocket_connect("/ws") as ws:
        welcome = hello(ws, conversation_id)
    assert welcome["restored"] is True
    visitor_lines = [entry["text"] for entry in welcome["history"] if entry["role"] == "visitor"]
    assert visitor_lines == ["what therapies do you have", button["title"]]
    bot_lines = [entry["text"] for entry in welcome["history"] if entry["role"] == "bot"]
    assert "automated assistant" in bot_lines[0]
    assert bot_lines[-1] == knowledge().get("cbt").short


def test_a_crisis_answer_is_marked_urgent(client):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        answer = ask(ws, "i don't want to be alive anymore")[-1]
    assert answer["urgent"] is True
    assert "988" in " ".join(m["text"] for m in answer["messages"])


def test_a_returning_visitor_gets_the_latest_messages_even_with_rasa_down(stack):
    with gateway_for(stack, restored_history_messages=5) as limited:
        with limited.websocket_connect("/ws") as ws:
            conversation_id = hello(ws)["conversation_id"]
            for question in ("what is iop", "what is dbt", "is kratom legal"):
                ask(ws, question)
        with limited.websocket_connect("/ws") as ws:
            latest = hello(ws, conversation_id)["history"]
    # greeting, then three questions with one answer each: the last five are the last two and a half turns
    assert [(e["role"], e["text"]) for e in latest][0] == ("bot", knowledge().get("iop").short)
    assert [e["text"] for e in latest if e["role"] == "visitor"] == ["what is dbt", "is kratom legal"]
    assert latest[-1]["text"] == knowledge().get("kratom_legal").short and len(latest) == 5
    with gateway_for(stack, rasa_port=free_port(), restored_history_messages=5) as down:
        with down.websocket_connect("/ws") as ws:
            assert hello(ws, conversation_id)["history"] == latest


def test_an_unknown_or_forged_conversation_id_gets_a_new_one(client):
    forged = conversation_ids.issue("some-other-secret-entirely")
    with client.websocket_connect("/ws") as ws:
        welcome = hello(ws, forged)
    assert welcome["restored"] is False
    assert welcome["conversation_id"] != forged
    assert welcome["history"] == []


def test_resending_a_message_is_answered_once(client, stack):
    with client.websocket_connect("/ws") as ws:
        conversation_id = hello(ws)["conversation_id"]
        ws.send_json({"type": "message", "client_id": "c-same", "text": "what is iop"})
        first = receive_until(ws, "bot")[-1]
    with client.websocket_connect("/ws") as ws:
        hello(ws, conversation_id)
        ws.send_json({"type": "message", "client_id": "c-same", "text": "what is iop"})
        second = receive_until(ws, "bot")[-1]
    assert second == first
    events = stack.events(conversation_id)
    assert [e["text"] for e in events if e["event"] == "user"] == ["what is iop"]


@pytest.mark.parametrize("raw, code", [
    ("not json at all", "bad_request"),
    ('["a", "list"]', "bad_request"),
    ('{"type": "dance"}', "bad_request"),
    ('{"type": "message", "text": "no client id"}', "bad_request"),
])
def test_malformed_frames_get_an_error_and_the_socket_stays_open(client, raw, code):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_text(raw)
        assert receive_json(ws)["code"] == code
        ws.send_json({"type": "ping"})
        assert receive_json(ws) == {"type": "pong"}


def test_a_message_before_hello_is_refused(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "message", "client_id": "c-1", "text": "hi"})
        assert receive_json(ws)["code"] == "hello_required"


def test_long_and_empty_messages_get_clear_errors(client):
    limit = client.app.state.settings.max_message_chars
    texts = client.app.state.texts
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_json({"type": "message", "client_id": "c-long", "text": "a" * (limit + 1)})
        error = receive_json(ws)
        assert error["code"] == "message_too_long" and f"{limit} characters" in error["message"]
        assert error["message"] == texts.message("message_too_long")
        ws.send_json({"type": "message", "client_id": "c-empty", "text": "   "})
        empty = receive_json(ws)
        assert empty["code"] == "empty_message" and empty["message"] == texts.message("empty_message")


def test_the_message_limit_is_the_setting(stack):
    with gateway_for(stack, max_message_chars=40) as limited, limited.websocket_connect("/ws") as ws:
        assert hello(ws)["max_message_chars"] == 40
        ws.send_json({"type": "message", "client_id": "c-41", "text": "what is iop " + "a" * 29})
        error = receive_json(ws)
    assert error["code"] == "message_too_long" and "40 characters" in error["message"]


def test_too_many_messages_a_minute_are_refused(stack):
    with gateway_for(stack, messages_per_minute=2) as limited, limited.websocket_connect("/ws") as ws:
        hello(ws)
        ask(ws, "hi")
        ask(ws, "what is iop")
        ws.send_json({"type": "message", "client_id": "c-third", "text": "what is dbt"})
        error = receive_json(ws)
    assert error["code"] == "rate_limited"
    assert 0 < error["retry_after"] <= 60


def test_too_many_connections_from_one_address_are_refused(stack):
    with gateway_for(stack, connections_per_ip=2) as limited:
        with limited.websocket_connect("/ws"), limited.websocket_connect("/ws"):
            with limited.websocket_connect("/ws") as third:
                assert receive_json(third)["code"] == "too_many_connections"
        with limited.websocket_connect("/ws") as again:  # closing frees the slots
            assert hello(again)["type"] == "welcome"


def test_rasa_down_gives_a_clear_message_and_the_gateway_stays_up(stack):
    with gateway_for(stack, rasa_port=free_port(), clinic_phone="(314) 555-0100") as down:
        with down.websocket_connect("/ws") as ws:
            hello(ws)
            ws.send_json({"type": "message", "client_id": "c-1", "text": "what is iop"})
            frames = receive_until(ws, "error")
            ws.send_json({"type": "ping"})
            assert receive_json(ws) == {"type": "pong"}
        assert down.get("/healthz").status_code == 200
        ready = down.get("/readyz")
    error = frames[-1]
    assert error["code"] == "assistant_unavailable"
    assert error["message"] == down.app.state.texts.message("assistant_unavailable")
    assert "(314) 555-0100" in error["message"] and "988" in error["message"] and "911" in error["message"]
    assert ready.status_code == 503 and "rasa server" in ready.json()["reason"]


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "visitor_message_failures": 0}


def test_the_widget_and_demo_page_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'src="/widget.js"' in page.text
    script = client.get("/widget.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("application/javascript")
    # Served with its words and the limit (and the demo page with the helplines) filled in.
    limit = client.app.state.settings.max_message_chars
    assert f'"max_message_chars": {limit}' in script.text
    assert client.app.state.texts.message("widget_send") in script.text
    assert "{crisis_line}" not in page.text and "988" in page.text


def test_only_the_crisis_message_is_urgent_not_the_disclosure_before_it(client):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        answer = ask(ws, "i want to end my life")[-1]
    flags = [(message["urgent"], "988" in message["text"]) for message in answer["messages"]]
    assert flags[0] == (False, True)  # the disclosure mentions 988 too, but is not the crisis answer
    assert flags[-1] == (True, True)


def test_a_visitor_cannot_read_or_write_another_visitors_conversation(client, stack):
    with client.websocket_connect("/ws") as first, client.websocket_connect("/ws") as second:
        mine = hello(first)["conversation_id"]
        ask(first, "my name is Dana and I use kratom daily")
        random_part, tag = mine.split(".")
        # Guessing: the right random part with a wrong tag, and a tag copied onto another random part.
        for guess in (f"{random_part}.{'A' * len(tag)}", f"{'B' * len(random_part)}.{tag}"):
            welcome = hello(second, guess)
            assert welcome["restored"] is False and welcome["conversation_id"] != mine
            assert welcome["history"] == []
        ask(second, "what is iop")
        # Nothing the second visitor did reached the first conversation, or the first visitor's socket.
        first.send_json({"type": "ping"})
        assert receive_json(first) == {"type": "pong"}
    texts = [event.get("text") for event in stack.events(mine) if event["event"] == "user"]
    assert texts == ["my name is Dana and I use kratom daily"]
