"""Visitors' thumbs up and down through the real gateway, Rasa and tracker store (docs/chat-protocol.md)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from bot.store import MessageRating, session_scope
from tests.support.gateway import gateway_for
from tests.support.sockets import hello, receive_json, receive_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(stack):
    with gateway_for(stack) as test_client:
        yield test_client


def ratings(client, conversation_id: str):
    with session_scope(client.app.state.settings.app_db_url) as session:
        return [(row.client_id, row.rating) for row in session.execute(
            select(MessageRating).where(MessageRating.conversation_id == conversation_id)).scalars()]


def test_a_rating_is_stored_with_the_message_and_a_second_click_replaces_it(client):
    with client.websocket_connect("/ws") as ws:
        conversation_id = hello(ws)["conversation_id"]
        client_id = f"c-{uuid.uuid4().hex}"
        ws.send_json({"type": "message", "client_id": client_id, "text": "what is iop"})
        assert receive_until(ws, "bot")[-1]["reply_to"] == client_id
        ws.send_json({"type": "rate", "reply_to": client_id, "rating": "down"})
        assert receive_json(ws) == {"type": "rated", "reply_to": client_id, "rating": "down"}
        assert ratings(client, conversation_id) == [(client_id, "down")]
        ws.send_json({"type": "rate", "reply_to": client_id, "rating": "up"})
        assert receive_json(ws)["rating"] == "up"
        assert ratings(client, conversation_id) == [(client_id, "up")]


@pytest.mark.parametrize("frame", [
    {"type": "rate", "reply_to": "c-never-sent", "rating": "down"},
    {"type": "rate", "reply_to": "c-x", "rating": "meh"},
    {"type": "rate", "rating": "up"},
    {"type": "rate", "reply_to": "c" * 65, "rating": "up"},
])
def test_a_rating_of_no_message_of_this_conversation_is_refused(client, frame):
    with client.websocket_connect("/ws") as ws:
        conversation_id = hello(ws)["conversation_id"]
        ws.send_json(frame)
        error = receive_json(ws)
        assert error["type"] == "error" and error["code"] == "bad_request"
        assert ratings(client, conversation_id) == []


def test_a_message_of_another_conversation_cannot_be_rated_from_this_one(client):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        client_id = f"c-{uuid.uuid4().hex}"
        ws.send_json({"type": "message", "client_id": client_id, "text": "hello"})
        receive_until(ws, "bot")
    with client.websocket_connect("/ws") as other:
        conversation_id = hello(other)["conversation_id"]
        other.send_json({"type": "rate", "reply_to": client_id, "rating": "down"})
        assert receive_json(other)["code"] == "bad_request"
        assert ratings(client, conversation_id) == []
