"""Hostile frames on the visitor websocket get an error frame with a code, the socket stays open,
nothing logs a traceback, and the same socket then gets a real answer (issue 11)."""

from __future__ import annotations

import json
import logging

import pytest

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
