"""The bounded tracker store keeps every event, and Rasa's policies see what they would see in the whole session."""

from __future__ import annotations

import asyncio
from typing import List

import pytest
import sqlalchemy as sa
import yaml
from rasa.core.tracker_store import SQLTrackerStore, create_tracker_store
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_plugins.rasa_server import RasaInternalChanged
from bot.rasa_plugins.tracker_store import STATE_INDEX, TIME_INDEX, VISIBLE_TURNS, RecentEventsSQLTrackerStore
from bot.settings import REPO_ROOT
from tests.support.rasa_policies import (
    DOMAIN,
    assert_policies_see_the_whole_session,
    memoization_max_history,
    whole_session,
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def store(url):
    tracker_store = RecentEventsSQLTrackerStore(domain=DOMAIN, host=url)
    yield tracker_store
    tracker_store.engine.dispose()


def append(store, sender: str, *events: Event) -> None:
    """One turn as Rasa does it: load the tracker, add events, save."""
    async def turn():
        tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
        for event in events:
            tracker.update(event)
        await store.save(tracker)
    asyncio.run(turn())


def session_start() -> List[Event]:
    return [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]


def chat_turn(number: int, hidden: bool = False) -> List[Event]:
    """A question answered by a rule; `hidden` as Rasa marks a rule-only turn."""
    return [UserUttered(f"question {number}", {"name": "ask_iop", "confidence": 0.9}),
            ActionExecuted("action_answer_knowledge", policy="RulePolicy", hide_rule_turn=hidden),
            BotUttered(f"answer {number}"), SlotSet("topic", f"topic {number}"),
            ActionExecuted("action_listen", policy="RulePolicy", hide_rule_turn=hidden)]


def form_turn(text: str, *slot_events: Event) -> List[Event]:
    return [UserUttered(text, {"name": "out_of_scope", "confidence": 0.9}),
            ActionExecuted("callback_form", policy="RulePolicy", hide_rule_turn=True), *slot_events,
            BotUttered("asking again"), ActionExecuted("action_listen", policy="RulePolicy", hide_rule_turn=True)]


def form_start() -> List[Event]:
    return [UserUttered("call me back", {"name": "request_callback", "confidence": 0.9}),
            ActionExecuted("callback_form", policy="RulePolicy", hide_rule_turn=True), ActiveLoop("callback_form"),
            SlotSet("requested_slot", "callback_consent"), BotUttered("may we?"),
            ActionExecuted("action_listen", policy="RulePolicy", hide_rule_turn=True)]


def crisis_in_form() -> List[Event]:
    return [UserUttered("crisis", {"name": "crisis_self_harm", "confidence": 1.0}),
            ActionExecuted("utter_crisis", policy="RulePolicy", hide_rule_turn=True), BotUttered("988"),
            ActionExecuted("action_deactivate_loop", policy="RulePolicy", hide_rule_turn=True), ActiveLoop(None),
            SlotSet("requested_slot", None),
            ActionExecuted("action_open_urgent_handoff", policy="RulePolicy", hide_rule_turn=True),
            ActionExecuted("action_listen", policy="RulePolicy", hide_rule_turn=True)]


def test_a_long_conversation_keeps_every_event_but_loads_a_window(store, sender="long-visitor"):
    append(store, sender, *session_start(), SlotSet("therapy", "cbt"), ConversationPaused(), ConversationResumed())
    for number in range(60):
        append(store, sender, *chat_turn(number, hidden=number % 3 != 0))

    tracker = assert_policies_see_the_whole_session(store, sender)
    assert tracker.get_slot("therapy") == "cbt"
    assert tracker.get_slot("topic") == "topic 59"
    assert not tracker.is_paused()
    # Three visible turns back (every third turn is one) is nine turns of five events.
    assert len(tracker.events) < 9 * 5 + 10
    first_in_window = next(e for e in tracker.events if not isinstance(e, (SlotSet, ConversationResumed)))
    assert first_in_window == ActionExecuted("action_listen")

    full = asyncio.run(store.retrieve_full_tracker(sender))
    assert len(full.events) == 6 + 60 * 5
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == [f"question {n}" for n in range(60)]


def test_rule_only_turns_do_not_shorten_what_memoization_sees(store, sender="hidden-turns"):
    append(store, sender, *session_start())
    for number in range(4):
        append(store, sender, *chat_turn(number))
    for number in range(4, 40):
        append(store, sender, *chat_turn(number, hidden=True))
        assert_policies_see_the_whole_session(store, sender)
    assert len(asyncio.run(store.retrieve(sender)).events) > 36 * 5


def test_a_long_form_is_loaded_from_its_start(store, sender="form-visitor"):
    append(store, sender, *session_start())
    for number in range(6):
        append(store, sender, *chat_turn(number))
    append(store, sender, *form_start())
    append(store, sender, *form_turn("yes", SlotSet("callback_consent", True),
                                     SlotSet("requested_slot", "callback_name")))
    append(store, sender, *form_turn("Maria", SlotSet("callback_name", "Maria"),
                                     SlotSet("requested_slot", "callback_contact")))
    for _ in range(10):
        append(store, sender, *form_turn("banana", SlotSet("callback_contact", None),
                                         SlotSet("requested_slot", "callback_contact")))
        tracker = assert_policies_see_the_whole_session(store, sender)
        assert ActiveLoop("callback_form") in tracker.events
    append(store, sender, *crisis_in_form())
    assert_policies_see_the_whole_session(store, sender)
    for number in range(6, 12):
        append(store, sender, *chat_turn(number))
        assert_policies_see_the_whole_session(store, sender)
    tracker = asyncio.run(store.retrieve(sender))
    assert tracker.active_loop_name is None
    assert ActiveLoop("callback_form") not in tracker.events
    assert tracker.get_slot("callback_name") == "Maria"


def test_a_long_pause_keeps_the_state(store, sender="paused-visitor"):
    append(store, sender, *session_start())
    for number in range(5):
        append(store, sender, *chat_turn(number))
    append(store, sender, ConversationPaused())
    for number in range(20):
        append(store, sender, UserUttered(f"to staff {number}", {"name": "out_of_scope", "confidence": 0.5}),
               BotUttered(f"staff answer {number}"))
    assert asyncio.run(store.retrieve(sender)).is_paused()
    append(store, sender, ConversationResumed(), ActionExecuted("action_listen"))
    for number in range(5, 10):
        append(store, sender, *chat_turn(number))
        assert not assert_policies_see_the_whole_session(store, sender).is_paused()


def test_a_slot_reset_before_the_window_still_counts(store, sender="reset-visitor"):
    append(store, sender, *session_start(), SlotSet("therapy", "cbt"), AllSlotsReset(), SlotSet("program", "iop"))
    for number in range(10):
        append(store, sender, *chat_turn(number))
    tracker = assert_policies_see_the_whole_session(store, sender)
    assert tracker.get_slot("therapy") is None
    assert tracker.get_slot("program") == "iop"


def test_a_session_with_an_undone_turn_is_loaded_as_rasa_loads_it(store, sender="back-visitor"):
    append(store, sender, *session_start())
    for number in range(10):
        append(store, sender, *chat_turn(number))
    # What Rasa's action_back does for "/back": the message and the one before are undone.
    append(store, sender, UserUttered("/back", {"name": "back", "confidence": 1.0}), ActionExecuted("action_back"),
           UserUtteranceReverted(), UserUtteranceReverted())
    for number in range(10, 20):
        append(store, sender, *chat_turn(number))
        assert asyncio.run(store.retrieve(sender)).events == whole_session(store, sender).events


def test_the_latest_state_wins(store, sender="changing-visitor"):
    append(store, sender, SessionStarted(), SlotSet("program", "detox"), ConversationPaused(),
           SlotSet("therapy", "cbt"))
    append(store, sender, SlotSet("program", "iop"), ConversationResumed(), ActionExecuted("action_listen"))
    for number in range(30):
        append(store, sender, *chat_turn(number))
    tracker = assert_policies_see_the_whole_session(store, sender)
    assert tracker.get_slot("program") == "iop"
    assert tracker.get_slot("topic") == "topic 29"
    assert tracker.get_slot("therapy") == "cbt"
    assert not tracker.is_paused()


def test_state_before_a_restart_is_forgotten(store, sender="restarted-visitor"):
    append(store, sender, *session_start(), SlotSet("therapy", "cbt"), ConversationPaused(), Restarted(),
           ActionExecuted("action_listen"))
    for number in range(30):
        append(store, sender, *chat_turn(number))
    tracker = assert_policies_see_the_whole_session(store, sender)
    assert tracker.get_slot("therapy") is None
    assert not tracker.is_paused()


def test_conversations_do_not_mix(store):
    append(store, "visitor-a", SessionStarted(), SlotSet("topic", "cbt"))
    append(store, "visitor-b", SessionStarted(), SlotSet("topic", "dbt"))
    assert asyncio.run(store.retrieve("visitor-a")).get_slot("topic") == "cbt"
    assert asyncio.run(store.retrieve("visitor-b")).get_slot("topic") == "dbt"
    assert asyncio.run(store.retrieve("nobody")) is None


def test_state_from_an_earlier_session_does_not_leak_into_a_new_one(store, sender="returning-visitor"):
    append(store, sender, *session_start(), SlotSet("therapy", "cbt"), ConversationPaused())
    for number in range(10):
        append(store, sender, *chat_turn(number))
    append(store, sender, *session_start())
    for number in range(100, 110):
        append(store, sender, *chat_turn(number))
    tracker = assert_policies_see_the_whole_session(store, sender)
    assert tracker.get_slot("therapy") is None
    assert not tracker.is_paused()
    assert not any(isinstance(e, UserUttered) and e.text == "question 9" for e in tracker.events)


def test_no_rule_depends_on_the_conversation_start():
    for path in sorted((REPO_ROOT / "data" / "rules").glob("*.yml")):
        for rule in yaml.safe_load(path.read_text()).get("rules") or []:
            assert not rule.get("conversation_start"), (
                f"{path.name}: rule '{rule['rule']}' uses conversation_start: true. The tracker store loads "
                f"a window of recent turns, and RulePolicy cannot tell a window's start from a conversation's, "
                f"so such a rule could fire in the middle of a long conversation (see docs/tracker-store.md).")


def test_the_window_covers_what_memoization_looks_back_on():
    assert memoization_max_history() <= VISIBLE_TURNS, (
        "MemoizationPolicy's max_history in config.yml is larger than the turns the tracker store keeps "
        "(VISIBLE_TURNS in bot/rasa_plugins/tracker_store.py); raise VISIBLE_TURNS with it.")


@pytest.mark.parametrize("name", ["_event_query", "_additional_events", "session_scope", "SQLEvent"])
def test_a_missing_rasa_internal_stops_the_store(monkeypatch, url, name):
    monkeypatch.delattr(SQLTrackerStore, name)
    with pytest.raises(RasaInternalChanged, match=rf"SQLTrackerStore\.{name}\b.*bot/rasa_plugins/tracker_store\.py"):
        RecentEventsSQLTrackerStore(domain=DOMAIN, host=url)


@pytest.mark.parametrize("name, replacement, message", [
    ("_event_query", lambda self, session, sender_id: None,
     r"_event_query takes \(self, session, sender_id\), "
     r"not \(self, session, sender_id, fetch_events_from_all_sessions\)"),
    ("retrieve", lambda self, sender_id, verbosity: None,
     r"retrieve takes \(self, sender_id, verbosity\), not \(self, sender_id\)"),
])
def test_a_changed_signature_stops_the_store(monkeypatch, url, name, replacement, message):
    monkeypatch.setattr(SQLTrackerStore, name, replacement)
    with pytest.raises(RasaInternalChanged, match=message):
        RecentEventsSQLTrackerStore(domain=DOMAIN, host=url)


def test_a_missing_event_column_stops_the_store(monkeypatch, url):
    # A mapped column cannot be removed, so a Rasa whose events table lost `action_name` is stood in for.
    columns = {name: None for name in ("id", "sender_id", "type_name", "timestamp", "intent_name", "data")}
    monkeypatch.setattr(SQLTrackerStore, "SQLEvent", type("SQLEvent", (), columns))
    with pytest.raises(RasaInternalChanged, match=r"SQLEvent has no action_name\. bot/rasa_plugins/tracker_store\.py"):
        RecentEventsSQLTrackerStore(domain=DOMAIN, host=url)


def test_rasa_loads_the_store_from_endpoints_and_does_not_fall_back_to_memory(monkeypatch, url):
    endpoint = EndpointConfig(url=url, type="bot.rasa_plugins.tracker_store.RecentEventsSQLTrackerStore")
    loaded = create_tracker_store(endpoint, DOMAIN)
    assert isinstance(loaded, RecentEventsSQLTrackerStore)
    loaded.engine.dispose()

    # Rasa turns an AttributeError from a custom store into a warning and an in-memory store.
    monkeypatch.delattr(SQLTrackerStore, "_additional_events")
    with pytest.raises(RasaInternalChanged, match="_additional_events"):
        create_tracker_store(endpoint, DOMAIN)


def test_the_store_indexes_what_the_console_and_the_window_look_up(store):
    """The windowed lookups by conversation, type and id; the reports' counts by type over time."""
    indexes = {index["name"]: index["column_names"] for index in sa.inspect(store.engine).get_indexes("events")}
    assert indexes[STATE_INDEX] == ["sender_id", "type_name", "action_name", "id"]
    assert indexes[TIME_INDEX] == ["type_name", "timestamp"]
