"""Custom actions, run directly with rasa_sdk's CollectingDispatcher and a hand-built tracker."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.callback import ValidateCallbackForm
from actions.fallback import ActionRephraseOrOfferPerson, describe_unreadable
from actions.handoff import ActionRequestHuman
from actions.knowledge_answer import ActionAnswerKnowledge
from actions.session import ActionSessionStart
from actions.yes_no import ActionAnswerYes
from bot.domain.knowledge.loader import default as knowledge
from bot.settings import get_settings


def user_event(text: str, intent: str, entities: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []},
    }


def bot_event(text: str, payloads: List[str]) -> Dict[str, Any]:
    return {"event": "bot", "text": text, "data": {"buttons": [{"title": p, "payload": p} for p in payloads]}}


def tracker_for(*events: Dict[str, Any], slots: Optional[Dict[str, Any]] = None) -> Tracker:
    latest = [e for e in events if e["event"] == "user"][-1]
    return Tracker(
        sender_id="visitor",
        slots=slots or {},
        latest_message=latest["parse_data"] | {"text": latest["text"]},
        events=list(events),
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(action, tracker: Tracker):
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, tracker, {})
    if inspect.iscoroutine(events):
        events = asyncio.run(events)
    return dispatcher.messages, events


@pytest.fixture(autouse=True)
def no_gateway(monkeypatch):
    """Handoff requests go to a port where nothing listens: the gateway is 'unreachable'.

    The real gateway is exercised by tests/test_handoff_flow.py.
    """
    from devtools.local_stack import free_port

    monkeypatch.setattr(get_settings(), "gateway_port", free_port())


@pytest.fixture
def clinic(monkeypatch):
    """Control clinic details; the action reads settings through get_settings()."""
    settings = get_settings()

    def set_details(**details):
        for name, value in details.items():
            monkeypatch.setattr(settings, f"clinic_{name}", value)

    set_details(phone=None, hours=None, address=None, insurance=None, prices=None, program_length=None)
    return set_details


@pytest.mark.parametrize("intent, entry_id", [
    ("ask_kratom_addiction", "kratom_addiction"),
    ("ask_iop", "iop"),
    ("ask_veterans_program", "veterans_program"),
    ("ask_work_schedule", "work_schedule"),
    ("greet", "greeting"),
])
def test_an_intent_gets_its_entrys_short_answer(intent, entry_id, clinic):
    messages, events = run(ActionAnswerKnowledge(), tracker_for(user_event("q", intent)))
    entry = knowledge().get(entry_id)
    assert messages[0]["text"] == entry.short
    assert {"event": "slot", "name": "topic", "value": entry_id} in [
        {k: e[k] for k in ("event", "name", "value")} for e in events
    ]


def test_a_therapy_entity_answers_that_therapy(clinic):
    emdr = [{"entity": "therapy", "value": "trauma_therapy"}]
    tracker = tracker_for(user_event("do you do emdr", "ask_therapy", emdr))
    messages, _ = run(ActionAnswerKnowledge(), tracker)
    assert messages[0]["text"] == knowledge().get("trauma_therapy").short


def test_ask_therapy_without_an_entity_lists_every_therapy_as_a_button(clinic):
    messages, _ = run(ActionAnswerKnowledge(), tracker_for(user_event("what therapies do you have", "ask_therapy")))
    titles = [button["title"] for button in messages[0]["buttons"]]
    assert titles == [entry.title for entry in knowledge().of_kind("therapy")]
    assert len(titles) == 10
    payloads = [button["payload"] for button in messages[0]["buttons"]]
    assert '/ask_therapy{"therapy": "cbt"}' in payloads


def test_an_answer_offers_tell_me_more_and_its_follow_ups(clinic):
    messages, _ = run(ActionAnswerKnowledge(), tracker_for(user_event("what is kratom", "ask_what_is_kratom")))
    entry = knowledge().get("what_is_kratom")
    buttons = messages[0]["buttons"]
    assert buttons[0] == {"title": "Tell me more", "payload": '/tell_me_more{"topic": "what_is_kratom"}'}
    assert [b["title"] for b in buttons[1:]] == [knowledge().get(i).title for i in entry.follow_ups]


def test_tell_me_more_gives_the_long_answer_of_the_button_topic(clinic):
    tracker = tracker_for(user_event("Tell me more", "tell_me_more", [{"entity": "topic", "value": "iop"}]))
    messages, _ = run(ActionAnswerKnowledge(), tracker)
    assert messages[0]["text"] == knowledge().get("iop").long
    assert all(b["title"] != "Tell me more" for b in messages[0]["buttons"])


@pytest.mark.parametrize("topic", [{"a": 1}, ["iop"], 7, None, "handoff_waiting", "callback_saved", "greeting",
                                   "no_such_entry"],
                         ids=["object", "list", "number", "null", "internal-waiting", "internal-callback",
                              "conversation", "unknown"])
def test_a_typed_topic_that_names_no_visitor_topic_gets_the_capabilities_answer(clinic, topic):
    tracker = tracker_for(user_event('/tell_me_more{"topic": ...}', "tell_me_more",
                                     [{"entity": "topic", "value": topic}]))
    messages, events = run(ActionAnswerKnowledge(), tracker)
    assert messages[0]["text"] == knowledge().get("capabilities").short
    assert events == []


def test_a_typed_therapy_entity_cannot_reach_an_internal_entry(clinic):
    tracker = tracker_for(user_event("/ask_therapy", "ask_therapy",
                                     [{"entity": "therapy", "value": "handoff_resolved"}]))
    messages, _ = run(ActionAnswerKnowledge(), tracker)
    assert knowledge().get("handoff_resolved").short not in [message.get("text") for message in messages]


def test_typed_tell_me_more_uses_the_last_topic(clinic):
    tracker = tracker_for(user_event("tell me more", "tell_me_more"), slots={"topic": "detox"})
    messages, _ = run(ActionAnswerKnowledge(), tracker)
    assert messages[0]["text"] == knowledge().get("detox").long


def test_tell_me_more_about_a_named_therapy_after_the_list_answers_that_therapy(clinic):
    listing = bot_event("Here are the therapies", ["/ask_therapy{\"therapy\": \"cbt\"}"])
    tracker = tracker_for(listing, user_event("tell me more about the DBT one", "tell_me_more",
                                              [{"entity": "therapy", "value": "dbt"}]), slots={"topic": None})
    messages, events = run(ActionAnswerKnowledge(), tracker)
    assert messages[0]["text"] == knowledge().get("dbt").long
    assert {"event": "slot", "name": "topic", "value": "dbt"} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in events]


def test_tell_me_more_with_no_topic_shows_what_the_assistant_can_do(clinic):
    messages, _ = run(ActionAnswerKnowledge(), tracker_for(user_event("go on", "tell_me_more")))
    assert messages[0]["text"] == knowledge().for_intent("ask_capabilities").short


def test_an_unset_clinic_detail_is_never_invented_and_a_person_is_offered(clinic):
    messages, _ = run(ActionAnswerKnowledge(), tracker_for(user_event("phone number", "ask_contact")))
    entry = knowledge().for_intent("ask_contact")
    assert messages[0]["text"] == entry.unknown.format(clinic_name="Engage Wellness")
    assert {"title": "Talk to a person", "payload": "/request_human"} in messages[0]["buttons"]


def test_a_set_clinic_detail_is_quoted(clinic):
    clinic(phone="(314) 555-0100", hours="Mon-Fri 8 am to 6 pm")
    messages, _ = run(ActionAnswerKnowledge(), tracker_for(user_event("phone number", "ask_contact")))
    assert "(314) 555-0100" in messages[0]["text"]
    assert "Mon-Fri 8 am to 6 pm" in messages[0]["text"]


def test_request_human_without_a_gateway_gives_contact_details(clinic):
    clinic(phone="(314) 555-0100", hours="9 to 5")
    human, events = run(ActionRequestHuman(), tracker_for(user_event("real person please", "request_human")))
    assert "(314) 555-0100" in human[0]["text"]
    assert {"title": "Request a call back", "payload": "/request_callback"} in human[0]["buttons"]
    assert events == []  # nobody to hand over to: the conversation is not paused


def test_first_miss_asks_to_rephrase_and_second_in_a_row_offers_a_person():
    first = tracker_for(user_event("asdf qwer", "nlu_fallback"))
    messages, _ = run(ActionRephraseOrOfferPerson(), first)
    assert messages[0]["response"] == "utter_ask_rephrase"
    second = tracker_for(
        user_event("asdf qwer", "nlu_fallback"), bot_event("rephrase?", []), user_event("zxcv", "nlu_fallback")
    )
    messages, _ = run(ActionRephraseOrOfferPerson(), second)
    assert messages[0]["response"] == "utter_offer_person"


def test_an_understood_message_resets_the_miss_count():
    tracker = tracker_for(
        user_event("asdf", "nlu_fallback"), user_event("what is iop", "ask_iop"), user_event("zxcv", "nlu_fallback")
    )
    messages, _ = run(ActionRephraseOrOfferPerson(), tracker)
    assert messages[0]["response"] == "utter_ask_rephrase"


def knowledge_message(name: str) -> str:
    """A knowledge file message as the actions render it (these have no clinic details)."""
    return knowledge().message(name, get_settings().clinic_details())


def test_button_titles_are_the_knowledge_files(clinic):
    messages, _ = run(ActionAnswerKnowledge(), tracker_for(user_event("what is kratom", "ask_what_is_kratom")))
    assert messages[0]["buttons"][0]["title"] == knowledge_message("tell_me_more_button") == "Tell me more"
    messages, _ = run(ActionAnswerKnowledge(), tracker_for(user_event("phone number", "ask_contact")))
    person = {"title": knowledge_message("talk_to_person_button"), "payload": "/request_human"}
    assert person in messages[0]["buttons"]
    human, _ = run(ActionRequestHuman(), tracker_for(user_event("real person please", "request_human")))
    callback = {"title": knowledge_message("request_callback_button"), "payload": "/request_callback"}
    assert callback in human[0]["buttons"]


@pytest.mark.parametrize("slot, value, message", [
    ("callback_name", "R2-D2", "callback_name_invalid"),
    ("callback_contact", "call me maybe", "callback_contact_invalid"),
    ("callback_time", "x" * 101, "callback_time_invalid"),
])
def test_the_callback_forms_re_asks_are_the_knowledge_files(slot, value, message):
    dispatcher = CollectingDispatcher()
    validate = getattr(ValidateCallbackForm(), f"validate_{slot}")
    result = validate(value, dispatcher, tracker_for(user_event(value, "x")), {})
    assert result == {slot: None}
    assert [m["text"] for m in dispatcher.messages] == [knowledge_message(message)]


def test_a_message_too_long_for_the_action_server_is_the_gateways_limit(monkeypatch):
    monkeypatch.setattr(get_settings(), "max_message_chars", 50)
    assert describe_unreadable("a" * 50) is None
    assert describe_unreadable("a" * 51) == "utter_message_too_long"


@pytest.mark.parametrize("text, response", [
    ("", "utter_empty_message"),
    ("   \n\t ", "utter_empty_message"),
    ("🙏🙏😭", "utter_no_words"),
    ("??? !!!", "utter_no_words"),
    ("кратом это опиоид?", "utter_english_only"),
    ("クラトムとは何ですか", "utter_english_only"),
    ("please " * 400, "utter_message_too_long"),
    ("what is kratom", None),
])
def test_unreadable_messages_get_a_specific_answer(text, response):
    assert describe_unreadable(text) == response


def test_yes_after_an_offer_of_a_person_gives_the_person_details(clinic):
    tracker = tracker_for(
        user_event("???", "nlu_fallback"), bot_event("want a person?", ["/request_human", "/ask_capabilities"]),
        user_event("yes", "affirm"),
    )
    messages, _ = run(ActionAnswerYes(), tracker)
    assert messages[0]["text"] == knowledge().get("talk_to_person").unknown.format(clinic_name="Engage Wellness")
    assert any(b["payload"] == "/request_callback" for b in messages[0]["buttons"])


def test_yes_after_an_answer_expands_it(clinic):
    tracker = tracker_for(
        user_event("what is iop", "ask_iop"),
        bot_event("IOP is ...", ['/tell_me_more{"topic": "iop"}', "/ask_outpatient"]),
        user_event("yes please", "affirm"),
    )
    messages, _ = run(ActionAnswerYes(), tracker)
    assert messages[0]["text"] == knowledge().get("iop").long


def test_yes_with_nothing_offered_shows_the_topics(clinic):
    messages, _ = run(ActionAnswerYes(), tracker_for(user_event("yes", "affirm")))
    assert messages[0]["text"] == knowledge().for_intent("ask_capabilities").short


def test_session_start_says_it_is_an_automated_assistant_first():
    messages, events = run(ActionSessionStart(), tracker_for(user_event("hi", "greet")))
    assert [e["event"] for e in events] == ["session_started", "bot", "action"]
    assert "automated assistant" in events[1]["text"]
    assert "988" in events[1]["text"]
    assert messages == []


def paused_tracker() -> Tracker:
    asked = user_event("can i talk to someone", "request_human")
    return Tracker(sender_id="visitor", slots={}, latest_message=asked["parse_data"],
                   events=[asked, {"event": "pause"}], paused=True, followup_action=None, active_loop={},
                   latest_action_name="action_listen")


def test_a_session_that_expires_while_staff_have_the_conversation_stays_paused(monkeypatch):
    asked = []

    async def gateway(path, payload):
        asked.append((path, payload))
        return {"open": True}

    monkeypatch.setattr("actions.session.post_to_gateway", gateway)
    messages, events = run(ActionSessionStart(), paused_tracker())
    assert [e["event"] for e in events] == ["session_started", "pause", "action"]
    assert messages == []
    assert asked == [("/internal/handoffs/status", {"conversation_id": "visitor"})]


def test_a_paused_session_whose_handoff_has_ended_starts_afresh_with_the_bot(monkeypatch):
    async def gateway(path, payload):
        return {"open": False}

    monkeypatch.setattr("actions.session.post_to_gateway", gateway)
    messages, events = run(ActionSessionStart(), paused_tracker())
    assert [e["event"] for e in events] == ["session_started", "bot", "action"]


def test_a_paused_session_stays_paused_when_the_gateway_cannot_be_asked():
    # The autouse no_gateway fixture points the action at a port where nothing listens.
    messages, events = run(ActionSessionStart(), paused_tracker())
    assert [e["event"] for e in events] == ["session_started", "pause", "action"]
