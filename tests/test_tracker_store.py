"""The bounded tracker store keeps every event and the full state while loading only recent events."""

from __future__ import annotations

import asyncio

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, BotUttered, ConversationPaused, ConversationResumed, Restarted, SessionStarted, SlotSet, UserUttered,
)

from bot.settings import REPO_ROOT
from bot.tracker_store import RECENT_EVENTS, RecentEventsSQLTrackerStore

DOMAIN = Domain.load(str(REPO_ROOT / "domain.yml"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tracker.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    tracker_store = RecentEventsSQLTrackerStore(domain=DOMAIN, host=url)
    yield tracker_store
    tracker_store.engine.dispose()


def append(store, sender: str, *events) -> None:
    """One turn as Rasa does it: load the tracker, add events, save."""
    async def turn():
        tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
        for event in events:
            tracker.update(event)
        await store.save(tracker)
    asyncio.run(turn())


def chat_turn(number: int):
    return [UserUttered(f"question {number}", {"name": "ask_iop", "confidence": 0.9}),
            ActionExecuted("action_answer_knowledge"), BotUttered(f"answer {number}"), ActionExecuted("action_listen")]


def test_a_long_conversation_keeps_every_event_and_its_state(store, sender="long-visitor"):
    append(store, sender, SessionStarted(), ActionExecuted("action_listen"), SlotSet("topic", "detox"),
           ConversationPaused())
    for number in range(60):
        append(store, sender, *chat_turn(number))

    tracker = asyncio.run(store.retrieve(sender))
    assert tracker.get_slot("topic") == "detox"
    assert tracker.is_paused()
    assert len(tracker.events) <= RECENT_EVENTS
    assert tracker.latest_message.text == "question 59"

    full = asyncio.run(store.retrieve_full_tracker(sender))
    assert len(full.events) == 4 + 60 * 4
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == [f"question {n}" for n in range(60)]


def test_the_latest_state_wins(store, sender="changing-visitor"):
    append(store, sender, SessionStarted(), SlotSet("topic", "detox"), ConversationPaused(), SlotSet("therapy", "cbt"))
    append(store, sender, SlotSet("topic", "iop"), ConversationResumed())
    for number in range(30):
        append(store, sender, *chat_turn(number))
    tracker = asyncio.run(store.retrieve(sender))
    assert tracker.get_slot("topic") == "iop"
    assert tracker.get_slot("therapy") == "cbt"
    assert not tracker.is_paused()


def test_state_before_a_restart_is_forgotten(store, sender="restarted-visitor"):
    append(store, sender, SessionStarted(), SlotSet("topic", "detox"), ConversationPaused(), Restarted())
    for number in range(30):
        append(store, sender, *chat_turn(number))
    tracker = asyncio.run(store.retrieve(sender))
    assert tracker.get_slot("topic") is None
    assert not tracker.is_paused()


def test_conversations_do_not_mix(store):
    append(store, "visitor-a", SessionStarted(), SlotSet("topic", "cbt"))
    append(store, "visitor-b", SessionStarted(), SlotSet("topic", "dbt"))
    assert asyncio.run(store.retrieve("visitor-a")).get_slot("topic") == "cbt"
    assert asyncio.run(store.retrieve("visitor-b")).get_slot("topic") == "dbt"
    assert asyncio.run(store.retrieve("nobody")) is None


def test_state_from_an_earlier_session_does_not_leak_into_a_new_one(store, sender="returning-visitor"):
    append(store, sender, SessionStarted(), SlotSet("topic", "detox"), ConversationPaused())
    for number in range(10):
        append(store, sender, *chat_turn(number))
    # A new session whose events exactly fill the window, starting with SessionStarted.
    append(store, sender, SessionStarted(), ActionExecuted("action_listen"))
    for number in range(5):
        append(store, sender, *chat_turn(100 + number))
    append(store, sender, SlotSet("therapy", "cbt"), ActionExecuted("action_listen"))
    assert RECENT_EVENTS == 2 + 5 * 4 + 2  # the new session fills the window exactly
    tracker = asyncio.run(store.retrieve(sender))
    assert tracker.get_slot("therapy") == "cbt"
    assert tracker.get_slot("topic") is None
    assert not tracker.is_paused()
