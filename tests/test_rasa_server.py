"""The two speed-ups applied to Rasa's server keep Rasa's behaviour exactly."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered

from bot import rasa_server

rasa_server.apply()
remote_action = RemoteAction("action_answer_knowledge", None)


def test_a_valid_action_server_response_passes():
    response = {
        "events": [{"event": "session_started", "timestamp": None}, {"event": "action", "name": "action_listen"},
                   {"event": "slot", "name": "topic", "value": "iop"}],
        "responses": [{"text": "hello", "buttons": []}],
    }
    assert remote_action._validate_action_result(response) is True


@pytest.mark.parametrize("response", [
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": "not a list", "responses": []},
    {"events": [{"event": "user", "text": 42}], "responses": []},
])
def test_an_invalid_action_server_response_is_still_rejected(response):
    with pytest.raises(ValidationError):
        remote_action._validate_action_result(response)


@pytest.mark.parametrize("type_name, expected", [
    ("user", UserUttered), ("bot", BotUttered), ("action", ActionExecuted),
    ("slot", SlotSet), ("session_started", SessionStarted),
])
def test_event_types_resolve_as_before(type_name, expected):
    assert Event.resolve_by_type(type_name) is expected
    assert Event.resolve_by_type(type_name) is expected  # cached lookup too


def test_unknown_event_types_behave_as_before():
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
