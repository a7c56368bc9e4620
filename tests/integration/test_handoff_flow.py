"""Handing a conversation to staff: the action asks the real gateway, which records the handoff."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import select

from bot.domain.knowledge.loader import default as knowledge
from bot.gateway.app import expire_overdue
from bot.gateway.console.live import StaffHub
from bot.gateway.event_bus import EventBus
from bot.gateway.metrics import Metrics
from bot.gateway.rasa_client import RasaClient
from bot.gateway.visitor.safety_net import SafetyNet
from bot.gateway.visitor.websocket import VisitorHub
from bot.store import Handoff, session_scope, utcnow
from tests.support.app_db import set_staff_online

pytestmark = pytest.mark.integration


def handoffs_of(stack, conversation_id: str):
    with session_scope(stack.settings.app_db_url) as session:
        return [(h.status, h.priority, h.reason) for h in
                session.execute(select(Handoff).where(Handoff.conversation_id == conversation_id)).scalars()]


def tracker(stack, conversation_id: str) -> dict:
    response = requests.get(f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
                            params={"token": stack.settings.rasa_token}, timeout=10)
    return response.json()


def test_with_nobody_online_the_visitor_gets_contact_details_at_once(stack, sender):
    set_staff_online(stack, False)
    replies = stack.send(sender, "can i talk to a real person")
    assert replies[-1]["text"] == knowledge().get("talk_to_person").unknown.format(clinic_name="Engage Wellness")
    assert any(b["payload"] == "/request_callback" for b in replies[-1]["buttons"])
    assert tracker(stack, sender)["paused"] is False
    assert handoffs_of(stack, sender) == []


def test_with_staff_online_the_conversation_is_handed_over_and_the_bot_stays_quiet(stack, sender):
    set_staff_online(stack, True)
    try:
        replies = stack.send(sender, "can i talk to a real person")
        assert replies[-1]["text"] == knowledge().get("handoff_waiting").short
        assert handoffs_of(stack, sender) == [("waiting", "normal", "visitor asked for a person")]
        assert stack.send(sender, "hello? is anyone there") == []
        state = tracker(stack, sender)
        assert state["paused"] is True
        assert [e["text"] for e in state["events"] if e["event"] == "user"][-1] == "hello? is anyone there"
    finally:
        set_staff_online(stack, False)


def test_a_crisis_is_answered_first_and_queued_as_urgent(stack, sender):
    set_staff_online(stack, False)
    replies = stack.send(sender, "i want to kill myself")
    crisis = [reply for reply in replies if "988" in reply.get("text", "") and "request_human" in str(reply)]
    assert crisis, replies
    assert handoffs_of(stack, sender) == [("waiting", "urgent", "crisis_self_harm")]


def test_an_unclaimed_handoff_expires_and_the_bot_answers_again(stack, sender):
    set_staff_online(stack, True)
    try:
        stack.send(sender, "real person please")
        assert stack.send(sender, "what is iop") == []
    finally:
        set_staff_online(stack, False)
    later = utcnow() + timedelta(minutes=stack.settings.handoff_wait_minutes + 1)
    assert asyncio.run(expire_once(stack, later)) >= 1
    assert handoffs_of(stack, sender)[0][0] == "expired"
    state = tracker(stack, sender)
    assert state["paused"] is False
    said = [event["text"] for event in state["events"] if event["event"] == "bot"]
    assert said[-1] == knowledge().get("handoff_expired").short
    assert stack.send(sender, "what is iop")[-1]["text"] == knowledge().get("iop").short


async def expire_once(stack, now) -> int:
    """One round of the gateway's expiry job, run here so the test controls the clock."""
    rasa, bus = RasaClient(stack.settings), EventBus()
    staff_hub = StaffHub(stack.settings, bus)
    hub = VisitorHub(stack.settings, rasa, bus, SafetyNet(stack.settings, rasa, staff_hub), Metrics(),
                     staff_hub.visitor_wrote)
    gateway = SimpleNamespace(state=SimpleNamespace(settings=stack.settings, rasa=rasa, hub=hub,
                                                    staff_hub=staff_hub))
    try:
        return await expire_overdue(gateway, now=now)
    finally:
        await rasa.close()


@pytest.mark.parametrize("path", ["/internal/handoffs", "/internal/callbacks", "/internal/handoffs/status"])
def test_the_internal_api_is_not_served_on_the_public_port(stack, path):
    token = {"Authorization": f"Bearer {stack.settings.internal_api_token}"}
    body = {"conversation_id": "x", "reason": "test", "priority": "normal"}
    assert requests.post(f"{stack.gateway_url}{path}", json=body, headers=token, timeout=5).status_code == 404


@pytest.mark.parametrize("path", ["/", "/console/login", "/widget.js", "/healthz"])
def test_the_internal_listener_serves_nothing_public(stack, path):
    assert requests.get(f"{stack.internal_url}{path}", timeout=5).status_code == 404


def test_the_internal_api_refuses_without_its_token(stack):
    url = f"{stack.internal_url}/internal/handoffs"
    body = {"conversation_id": "x", "reason": "test", "priority": "normal"}
    assert requests.post(url, json=body, timeout=5).status_code == 401
    wrong = {"Authorization": "Bearer wrong-token-value"}
    assert requests.post(url, json=body, headers=wrong, timeout=5).status_code == 401
    ok = requests.post(url, json=body, headers={"Authorization": f"Bearer {stack.settings.internal_api_token}"},
                       timeout=5)
    assert ok.status_code == 200


@pytest.mark.parametrize("path, body", [
    ("/internal/handoffs", {"conversation_id": "x", "reason": "test", "priority": "normal"}),
    ("/internal/callbacks", {"conversation_id": "x", "first_name": "Sam", "contact": "sam@example.org",
                             "best_time": "mornings"}),
])
def test_internal_endpoints_check_token_and_body(stack, path, body):
    url = f"{stack.internal_url}{path}"
    token = {"Authorization": f"Bearer {stack.settings.internal_api_token}"}
    assert requests.post(url, json=body, timeout=5).status_code == 401
    assert requests.post(url, data="not json", headers=token, timeout=5).status_code == 400
    incomplete = {key: value for key, value in body.items() if key != "conversation_id"}
    answer = requests.post(url, json=incomplete, headers=token, timeout=5)
    assert answer.status_code == 400 and "conversation_id" in answer.json()["error"]


@pytest.mark.parametrize("path, body, field", [
    ("/internal/handoffs", {"conversation_id": "x" * 129, "reason": "test", "priority": "normal"}, "conversation_id"),
    ("/internal/handoffs", {"conversation_id": "x", "reason": "r" * 41, "priority": "normal"}, "reason"),
    ("/internal/handoffs", {"conversation_id": "x", "reason": "r", "priority": "normal", "last_intent": "i" * 101},
     "last_intent"),
    ("/internal/callbacks", {"conversation_id": "x", "first_name": "S" * 101, "contact": "sam@example.org",
                             "best_time": "mornings"}, "first_name"),
    ("/internal/callbacks", {"conversation_id": "x", "first_name": "Sam", "contact": "c" * 255,
                             "best_time": "mornings"}, "contact"),
], ids=["conversation-id", "reason", "last-intent", "first-name", "contact"])
def test_the_internal_api_refuses_fields_longer_than_the_database_keeps(stack, path, body, field):
    answer = requests.post(f"{stack.internal_url}{path}", json=body, timeout=5,
                           headers={"Authorization": f"Bearer {stack.settings.internal_api_token}"})
    assert answer.status_code == 400 and field in answer.json()["error"]


def test_the_internal_api_refuses_deeply_nested_json(stack):
    answer = requests.post(f"{stack.internal_url}/internal/handoffs", data="[" * 100_000, timeout=5,
                           headers={"Authorization": f"Bearer {stack.settings.internal_api_token}"})
    assert answer.status_code == 400
