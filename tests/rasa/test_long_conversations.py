"""Long conversations get the actions Rasa's policies predict for them, on SQLite and PostgreSQL.

The tracker store answers each message from a window of recent events, and
RulePolicy and MemoizationPolicy see only what replaying `tracker.events`
gives them. These conversations run well past any window through the real
servers, check the actions Rasa predicted after the last message, and after
every message compare the states the policies compute from the store's window
with those from Rasa's own loading of the whole session.
"""

from __future__ import annotations

import asyncio
from typing import Iterator, List, Optional

import pytest
from rasa.core.tracker_store import SQLTrackerStore

from bot.domain.knowledge.loader import default as knowledge
from bot.rasa_plugins.tracker_store import RecentEventsSQLTrackerStore
from devtools.local_stack import Stack, running_stack
from tests.support.artifacts import ARTIFACTS
from tests.support.rasa_policies import DOMAIN, assert_policies_see_the_whole_session

pytestmark = pytest.mark.integration

# Questions whose answers MemoizationPolicy sees (their rules also appear in stories), so a window
# can start after them.
PRELUDE = ["what is iop", "do you do emdr", "what is kratom", "do you offer detox",
           "can i keep my job during treatment", "what therapies do you offer"]
FAQ = [
    "is kratom addictive", "do you take medicaid", "how long does kratom withdrawal last", "do you do emdr",
    "where are you located", "is this confidential", "my son is using kratom how can i help",
    "what therapies do you offer", "how do i get started", "is kratom legal in missouri", "do you treat alcohol too",
    "what is kratom", "do you offer detox", "can i keep my job during treatment", "how much does it cost",
    "what are the side effects of kratom", "do you have a program for veterans",
]
INVALID_CONTACTS = 7


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def long_stack(request, tmp_path_factory) -> Iterator[Stack]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('tracker') / 'tracker.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    with running_stack(url, ARTIFACTS / f"long-conversation-logs-{request.param}") as stack:
        yield stack


@pytest.fixture(scope="module")
def reader(long_stack) -> Iterator[RecentEventsSQLTrackerStore]:
    """The store on the servers' database, to load each conversation both ways."""
    store = RecentEventsSQLTrackerStore(domain=DOMAIN, host=long_stack.settings.tracker_db_url)
    yield store
    store.engine.dispose()


class Visitor:
    def __init__(self, stack: Stack, reader: RecentEventsSQLTrackerStore, sender: str) -> None:
        self.stack, self.reader, self.sender = stack, reader, sender

    def say(self, text: str) -> list:
        replies = self.stack.send(self.sender, text)
        assert_policies_see_the_whole_session(self.reader, self.sender)
        return replies

    def events(self) -> List[dict]:
        return self.stack.events(self.sender)

    def actions_after_last_message(self) -> List[str]:
        events = self.events()
        last_user = max(i for i, event in enumerate(events) if event["event"] == "user")
        return [event["name"] for event in events[last_user:] if event["event"] == "action"]

    def active_form(self) -> Optional[str]:
        """The form active once the last message was answered, from the full transcript."""
        active = None
        for event in self.events():
            if event["event"] == "active_loop":
                active = event["name"]
            elif event["event"] in ("session_started", "restart"):
                active = None
        return active

    def loaded_a_window(self) -> bool:
        windowed = asyncio.run(self.reader.retrieve(self.sender))
        return len(windowed.events) < len(asyncio.run(SQLTrackerStore.retrieve(self.reader, self.sender)).events)


@pytest.fixture
def visitor(long_stack, reader, sender) -> Visitor:
    return Visitor(long_stack, reader, sender)


def texts(replies: list) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def start_callback_and_give_bad_contacts(visitor: Visitor) -> None:
    for question in PRELUDE:
        visitor.say(question)
    assert "May we store your first name" in texts(visitor.say("can someone call me back"))
    assert "What first name" in texts(visitor.say("yes"))
    assert "phone number or email" in texts(visitor.say("Maria"))
    for _ in range(INVALID_CONTACTS):
        assert "doesn't look like a US phone number" in texts(visitor.say("banana"))
    assert visitor.actions_after_last_message() == ["callback_form", "action_listen"]
    assert visitor.active_form() == "callback_form"


def test_a_crisis_long_after_the_form_started_stops_the_form(visitor):
    start_callback_and_give_bad_contacts(visitor)

    replies = visitor.say("i want to kill myself")

    assert visitor.actions_after_last_message() == [
        "utter_crisis", "action_deactivate_loop", "action_open_urgent_handoff", "action_listen"]
    assert visitor.active_form() is None
    assert "988" in replies[0]["text"]
    # The form is over: the next message is a question again, not a contact detail.
    visitor.say("what is iop")
    assert visitor.actions_after_last_message() == ["action_answer_knowledge", "action_listen"]
    assert visitor.loaded_a_window()


def test_a_form_completed_after_many_turns_is_submitted(visitor):
    start_callback_and_give_bad_contacts(visitor)
    assert "good time to call" in texts(visitor.say("(314) 555-0199"))

    visitor.say("weekday mornings")

    assert visitor.actions_after_last_message() == ["callback_form", "action_submit_callback", "action_listen"]
    assert visitor.active_form() is None
    assert visitor.loaded_a_window()


def test_yes_after_a_long_chat_continues_what_was_offered(visitor):
    for question in FAQ:
        visitor.say(question)
    offer = visitor.say("what is iop")
    assert {"title": "Tell me more", "payload": '/tell_me_more{"topic": "iop"}'} in offer[-1]["buttons"]

    replies = visitor.say("yes")

    assert visitor.actions_after_last_message() == ["action_answer_yes", "action_listen"]
    assert replies[-1]["text"] == knowledge().get("iop").long
    assert [e["value"] for e in visitor.events() if e["event"] == "slot" and e["name"] == "topic"][-1] == "iop"
    assert visitor.loaded_a_window()
