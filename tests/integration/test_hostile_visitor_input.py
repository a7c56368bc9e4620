"""Hostile frames on the visitor websocket get an error frame with a code, the socket stays open,
nothing logs a traceback, and the same socket then gets a real answer (issue 11)."""

from __future__ import annotations

import json
import logging

import pytest

from bot.domain.knowledge.loader import default as knowledge
from tests.support.gateway import gateway_for
from tests.support.sockets import ask, hello, receive_json

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(stack):
    with gateway_for(stack) as test_client:
        yield test_client


def no_tracebacks(caplog) -> None:
    assert [record.getMessage() for record in caplog.records if record.exc_info] == []
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []


def answers_a_question(ws) -> None:
    frames = ask(ws, "do you take insurance")
    assert frames[-1]["type"] == "bot" and frames[-1]["messages"]


@pytest.mark.parametrize("frame", [
    pytest.param("[" * 100_000, id="deeply-nested-json"),
    pytest.param('{"type": "message", "text": ' + "[" * 50_000 + "]" * 50_000 + "}", id="nested-inside-a-message"),
    pytest.param("not json at all", id="not-json"),
    pytest.param("[1, 2, 3]", id="json-but-not-an-object"),
])
def test_unreadable_text_frames_get_bad_request(client, caplog, frame):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_text(frame)
        assert receive_json(ws)["code"] == "bad_request"
        answers_a_question(ws)
    no_tracebacks(caplog)


def test_a_binary_frame_gets_bad_request(client, caplog):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_bytes(json.dumps({"type": "message", "client_id": "c-1", "text": "hi"}).encode())
        assert receive_json(ws)["code"] == "bad_request"
        answers_a_question(ws)
    no_tracebacks(caplog)


@pytest.mark.parametrize("conversation_id", ["é" * 22 + ".abcdefghijklmnop", "😀.😀", "a" * 22 + ".\u200b", 12, ["x"]],
                         ids=["accented", "emoji", "zero-width", "number", "list"])
def test_a_forged_conversation_id_gets_a_new_conversation(client, caplog, conversation_id):
    with client.websocket_connect("/ws") as ws:
        welcome = hello(ws, conversation_id)
        assert welcome["restored"] is False and welcome["conversation_id"] != conversation_id
        answers_a_question(ws)
    no_tracebacks(caplog)


@pytest.mark.parametrize("page_url", ["http://[::1", "http://[", "javascript:alert(1)", 5, "h" * 100_000],
                         ids=["ipv6-unclosed", "bracket", "javascript", "number", "huge"])
def test_a_bad_page_url_is_dropped(client, caplog, page_url):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello", "conversation_id": None, "page_url": page_url})
        assert receive_json(ws)["type"] == "welcome"
        answers_a_question(ws)
    no_tracebacks(caplog)


# ------------------------------------------------------------------------------ typed payloads

def user_metadata(stack, conversation_id: str) -> list:
    return [event.get("metadata") or {} for event in stack.events(conversation_id) if event["event"] == "user"]


def test_a_typed_payload_naming_an_internal_entry_is_read_as_words(client, stack, caplog):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        answer = ask(ws, '/tell_me_more{"topic":"handoff_waiting"}')[-1]
    texts = " ".join(message["text"] for message in answer["messages"])
    assert knowledge().get("handoff_waiting").short not in texts
    no_tracebacks(caplog)


@pytest.mark.parametrize("text", ['/greet{"a":"b"} i want to kill myself tonight', "/GREET i want to end my life",
                                  '/crisis_self_harm{"x": 1}<b>i want to kill myself</b>'],
                         ids=["greet-payload", "upper-case", "markup"])
def test_a_crisis_wrapped_in_a_typed_payload_gets_the_crisis_answer(client, caplog, text):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        answers = [frame for frame in ask(ws, text) if frame["type"] == "bot"]
    assert any(frame["urgent"] for frame in answers)
    assert any("988" in message["text"] for frame in answers for message in frame["messages"])


def test_display_text_reaches_staff_only_for_an_offered_button(client, stack, caplog):
    with client.websocket_connect("/ws") as ws:
        conversation_id = hello(ws)["conversation_id"]
        answer = ask(ws, "what is iop", display_text="what are your opening hours")[-1]
        button = next(button for message in answer["messages"] for button in message["buttons"])
        ask(ws, button["payload"], display_text=button["title"])
        ask(ws, button["payload"], display_text="i am fine thanks")
    shown = [metadata.get("display_text") for metadata in user_metadata(stack, conversation_id)]
    assert shown == [None, button["title"], None]
    no_tracebacks(caplog)


def test_an_over_long_crisis_message_gets_the_crisis_answer_and_the_length_notice(client, caplog):
    text = "i want to kill myself tonight. " + "and nobody would notice at all " * 80
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        frames = ask(ws, text)
        notice = receive_json(ws)
    assert len(text) > client.app.state.settings.max_message_chars
    assert frames[-1]["type"] == "bot" and frames[-1]["urgent"]
    assert "988" in frames[-1]["messages"][0]["text"]
    assert notice["type"] == "error" and notice["code"] == "message_too_long" and "client_id" not in notice


def test_a_client_id_longer_than_the_widget_makes_is_refused(client, caplog):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_json({"type": "message", "client_id": "c" * 100_000, "text": "what is iop"})
        assert receive_json(ws)["code"] == "bad_request"
        answers_a_question(ws)
    no_tracebacks(caplog)


# ------------------------------------------------------------------------------ per-client limits

def test_the_message_rate_counts_every_conversation_of_a_client(stack, caplog):
    with gateway_for(stack, messages_per_minute_per_client=3) as limited:
        answers = []
        for _ in range(2):
            with limited.websocket_connect("/ws") as ws:
                hello(ws)
                answers += [ask(ws, "what is iop")[-1] for _ in range(2)]
    assert [answer["type"] for answer in answers] == ["bot", "bot", "bot", "error"]
    assert answers[-1]["code"] == "rate_limited" and answers[-1]["retry_after"] > 0


def test_a_client_starting_too_many_conversations_waits_and_a_crisis_is_still_answered(stack, caplog):
    with gateway_for(stack, new_conversations_per_hour_per_client=2) as limited:
        for _ in range(2):
            with limited.websocket_connect("/ws") as ws:
                assert hello(ws)["type"] == "welcome"
        with limited.websocket_connect("/ws") as ws:
            ws.send_json({"type": "hello", "conversation_id": None, "page_url": "http://test/"})
            refused = receive_json(ws)
            ws.send_json({"type": "message", "client_id": "c-1", "text": "i want to kill myself"})
            crisis, told = receive_json(ws), receive_json(ws)
    assert refused["code"] == "rate_limited" and refused["retry_after"] > 0
    assert crisis["type"] == "bot" and crisis["urgent"] and "988" in crisis["messages"][0]["text"]
    assert told["code"] == "hello_required"
    no_tracebacks(caplog)
