"""The two speed-ups applied to Rasa's server keep Rasa's behaviour, and a changed Rasa stops start-up."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest
from aiohttp import web
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_plugins import rasa_server
from bot.rasa_plugins.rasa_server import RasaInternalChanged
from bot.settings import REPO_ROOT
from devtools.local_stack import free_port

DOMAIN = Domain.load(str(REPO_ROOT / "domain.yml"))
rasa_server.apply()

VALID = {
    "events": [{"event": "session_started", "timestamp": None}, {"event": "action", "name": "action_listen"},
               {"event": "slot", "name": "topic", "value": "iop"}],
    "responses": [{"text": "hello", "buttons": []}],
}


def run_remote_action(action_server_answer: dict) -> list:
    """Rasa's RemoteAction.run against a real HTTP action server that gives `action_server_answer`."""
    async def scenario() -> list:
        async def webhook(request: web.Request) -> web.Response:
            return web.json_response(action_server_answer)

        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            action = RemoteAction("action_answer_knowledge", EndpointConfig(f"http://127.0.0.1:{port}/webhook"))
            tracker = DialogueStateTracker.from_events(
                "visitor", [ActionExecuted("action_listen"), UserUttered("what is iop", {"name": "ask_iop"})],
                DOMAIN.slots)
            return await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(DOMAIN.responses),
                                    tracker, DOMAIN)
        finally:
            await runner.cleanup()
    return asyncio.run(scenario())


def test_rasa_runs_a_custom_action_through_the_cached_validator():
    before = rasa_server._action_response_validator.cache_info()
    events = run_remote_action(VALID)
    run_remote_action(VALID)
    after = rasa_server._action_response_validator.cache_info()
    assert after.hits + after.misses == before.hits + before.misses + 2
    assert after.hits >= before.hits + 1
    assert [type(event) for event in events] == [BotUttered, SessionStarted, ActionExecuted, SlotSet]
    assert events[0].text == "hello" and events[3] == SlotSet("topic", "iop")


@pytest.mark.parametrize("answer", [
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": "not a list", "responses": []},
    {"events": [{"event": "user", "text": 42}], "responses": []},
])
def test_rasa_still_rejects_an_invalid_action_server_answer(answer):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        run_remote_action(answer)


def test_rasa_loads_a_tracker_through_the_cached_event_lookup():
    stored = [
        {"event": "session_started"}, {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "what is iop", "parse_data": {"intent": {"name": "ask_iop"}}},
        {"event": "slot", "name": "topic", "value": "iop"}, {"event": "bot", "text": "IOP is..."},
    ]
    DialogueStateTracker.from_dict("visitor", stored, DOMAIN.slots)
    before = rasa_server._event_class.cache_info()
    tracker = DialogueStateTracker.from_dict("visitor", stored, DOMAIN.slots)
    after = rasa_server._event_class.cache_info()
    # One cached lookup per stored event, and none had to search Rasa's Event subclasses again.
    assert (after.hits - before.hits, after.misses - before.misses) == (len(stored), 0)
    assert [type(event) for event in tracker.events] == [SessionStarted, ActionExecuted, UserUttered, SlotSet,
                                                          BotUttered]
    assert tracker.get_slot("topic") == "iop"


@pytest.mark.parametrize("type_name, expected", [
    ("user", UserUttered), ("bot", BotUttered), ("action", ActionExecuted),
    ("slot", SlotSet), ("session_started", SessionStarted),
])
def test_event_types_resolve_as_before(type_name, expected):
    assert Event.resolve_by_type(type_name) is expected
    assert Event.resolve_by_type(type_name) is expected  # cached lookup too


def test_unknown_event_types_behave_as_before_even_after_a_second_apply():
    rasa_server.apply()
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet


@pytest.mark.parametrize("owner, name", [
    (RemoteAction, "_validate_action_result"), (RemoteAction, "action_response_format_spec"),
    (Event, "resolve_by_type"),
])
def test_a_missing_rasa_internal_stops_apply(monkeypatch, owner, name):
    monkeypatch.delattr(owner, name)
    expected = rf"has no .*{owner.__name__}\.{name}\. bot/rasa_plugins/rasa_server\.py"
    with pytest.raises(RasaInternalChanged, match=expected):
        rasa_server.apply()


def test_a_changed_signature_stops_apply(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", lambda self, result, schema: True)
    with pytest.raises(RasaInternalChanged, match=r"_validate_action_result takes \(self, result, schema\), "
                                                  r"not \(self, result\)\. bot/rasa_plugins/rasa_server\.py"):
        rasa_server.apply()


def test_a_changed_tracker_store_internal_stops_apply(monkeypatch):
    monkeypatch.delattr(SQLTrackerStore, "_event_query")
    expected = r"SQLTrackerStore\._event_query\. bot/rasa_plugins/tracker_store\.py"
    with pytest.raises(RasaInternalChanged, match=expected):
        rasa_server.apply()


def test_the_server_does_not_start_on_a_rasa_without_a_patched_internal():
    # Rasa's CLI as `python -m bot.rasa_plugins.rasa_server` runs it, on a Rasa whose RemoteAction lost the method.
    start = textwrap.dedent("""
        import runpy, sys
        from rasa.core.actions.action import RemoteAction
        del RemoteAction._validate_action_result
        sys.argv = ["bot.rasa_plugins.rasa_server", "run", "--help"]
        runpy.run_module("bot.rasa_plugins.rasa_server", run_name="__main__")
    """)
    result = subprocess.run([sys.executable, "-c", start], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert ("RasaInternalChanged: Rasa 3.6.21 has no rasa.core.actions.action.RemoteAction._validate_action_result. "
            "bot/rasa_plugins/rasa_server.py patches or overrides it") in result.stderr
