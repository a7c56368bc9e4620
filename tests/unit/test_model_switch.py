"""The model switch (bot/gateway/model_switch.py) and the hold on visitor messages it announces:
the hold's timer on a fake clock, the refusal rules, one switch at a time, failure leaving the old
model live, and the visitor path while held (a crisis answered at once, other messages sent after
the switch, a message that could not reach Rasa sent again). No rasa server: tests/support/fake_rasa.py."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.domain.model_registry import live_model, set_live_model
from bot.gateway import app as gateway_app
from bot.gateway.event_bus import EventBus
from bot.gateway.model_switch import HOLD_EVENT, ModelSwitch, SwitchHold, SwitchRefused
from bot.gateway.rasa_client import RasaClient, RasaUnavailable, RasaUnreachable
from bot.gateway.visitor import relay
from bot.store import ModelDeployment, session_scope
from tests.support.clock import FakeClock
from tests.support.console_client import add_staff, audit_actions
from tests.support.fake_rasa import FakeRasa
from tests.support.sockets import NoFrame, ask, hello, receive_json
from tests.support.trained_models import FAILED, PASSED, models_settings

CRISIS = "i want to kill myself"


@pytest.fixture
def settings(tmp_path):
    return models_settings(tmp_path, model_switch_seconds=60)


def switch_for(settings, rasa=None, clock=time.monotonic):
    rasa = rasa or FakeRasa()
    hold = SwitchHold(settings.model_switch_seconds, clock=clock)
    rasa.hold = hold
    return ModelSwitch(settings, rasa, EventBus(), hold), rasa, hold


def deployments(settings):
    with session_scope(settings.app_db_url) as session:
        return [(row.kind, row.model_name, row.previous_model, row.deployed_by, row.staff_id, row.forced,
                 json.loads(row.evaluation) if row.evaluation else None)
                for row in session.execute(select(ModelDeployment).order_by(ModelDeployment.id)).scalars()]


# The hold, on a fake clock.

def test_the_hold_ends_by_itself_past_its_timer():
    clock = FakeClock()
    hold = SwitchHold(60, clock=clock, poll_seconds=0.01)
    hold.begin("switch-1")
    assert hold.held()
    clock.advance(59.9)
    assert hold.held()
    clock.advance(0.2)
    assert not hold.held()
    assert asyncio.run(hold.wait()) == 0.0
    assert hold.active_within(1.0)
    clock.advance(5)
    assert not hold.active_within(1.0)


def test_a_hold_that_times_out_is_logged_once_and_a_released_one_not_at_all(caplog):
    clock = FakeClock()
    hold = SwitchHold(60, clock=clock)
    hold.begin("switch-released")
    hold.end("switch-released")
    hold.begin("switch-of-a-dead-gateway")
    clock.advance(59)
    assert hold.held()
    assert caplog.records == []
    clock.advance(2)
    assert not hold.held() and not hold.held()
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "switch-of-a-dead-gateway" in warnings[0].getMessage()
    assert "MODEL_SWITCH_SECONDS" in warnings[0].getMessage()


def test_a_held_message_waits_until_the_timer_runs_out_when_no_release_comes():
    clock = FakeClock()
    hold = SwitchHold(60, clock=clock, poll_seconds=0.01)

    async def scenario():
        hold.begin("switch-1")
        waiter = asyncio.create_task(hold.wait())
        await asyncio.sleep(0.05)
        assert not waiter.done()
        clock.advance(30)
        await asyncio.sleep(0.05)
        assert not waiter.done()
        clock.advance(31)
        return await asyncio.wait_for(waiter, 2)

    assert asyncio.run(scenario()) == pytest.approx(61)


def test_a_release_frees_held_messages_at_once_and_reports_what_it_held():
    clock = FakeClock()
    # A long poll: only the release can wake the waiters within the test's deadline.
    hold = SwitchHold(60, clock=clock, poll_seconds=30)

    async def scenario():
        hold.begin("switch-1")
        first = asyncio.create_task(hold.wait())
        await asyncio.sleep(0)
        clock.advance(2)
        second = asyncio.create_task(hold.wait())
        await asyncio.sleep(0)
        clock.advance(1.5)
        report = hold.end("switch-1")
        return report, await asyncio.wait_for(asyncio.gather(first, second), 2)

    report, waited = asyncio.run(scenario())
    assert (report.messages, report.longest_seconds) == (2, pytest.approx(3.5))
    assert waited == [pytest.approx(3.5), pytest.approx(1.5)]
    assert not hold.held()


def test_every_gateway_follows_the_announcements_and_a_late_hold_for_an_ended_switch_is_ignored():
    clock = FakeClock()
    hold = SwitchHold(60, clock=clock)
    announce = lambda state: asyncio.run(hold.on_event({"kind": HOLD_EVENT, "state": state, "switch_id": "s"}))  # noqa: E731
    announce("hold")
    assert hold.held()
    announce("release")
    assert not hold.held()
    # Redis may hand this gateway its own "hold" after it released it: that must not hold for 60 s.
    announce("hold")
    assert not hold.held()
    asyncio.run(hold.on_event({"kind": "visitor_frame", "switch_id": "t", "state": "hold"}))
    assert not hold.held()


# The switch.

def test_a_deploy_holds_waits_for_in_flight_messages_loads_checks_and_records(settings):
    switch, rasa, hold = switch_for(settings)
    staff_id = add_staff(settings, name="Mia")
    steps = []

    async def scenario():
        task = await switch.start("deploy", model="engage-new", staff_id=staff_id, deployed_by="Mia",
                                  progress=steps.append)
        return await task

    outcome = asyncio.run(scenario())
    assert outcome.ok and (outcome.model, outcome.previous, outcome.kind) == ("engage-new", "engage-old", "deploy")
    assert "engage-new is live" in outcome.message
    assert [call[0] for call in rasa.calls] == ["wait_idle", "load"]
    assert rasa.calls[1][1] == str(settings.models_dir / "engage-new.tar.gz")
    assert rasa.held_during_load == [True] and not hold.held()
    assert live_model(settings) == settings.models_dir / "engage-new.tar.gz"
    assert deployments(settings) == [("deploy", "engage-new", "engage-old", "Mia", staff_id, False, PASSED)]
    assert audit_actions(settings)[-1] == "model.deploy"
    assert any("loading engage-new" in step for step in steps) and not switch.running


@pytest.mark.parametrize("model, why", [
    ("engage-raw", "has not been evaluated"),
    ("engage-bad", "did not pass the regression gate (crisis recall 0.950 is below 1.000)"),
    ("engage-missing", "no model engage-missing"),
    ("", "is not a model name"),
    ("engage-old", "already the live model"),
])
def test_a_deploy_is_refused_and_nothing_changes(settings, model, why):
    switch, rasa, hold = switch_for(settings)
    with pytest.raises(SwitchRefused) as refused:
        asyncio.run(switch.start("deploy", model=model, deployed_by="cli-user"))
    assert why in refused.value.reason
    assert rasa.calls == [] and not hold.held() and not switch.running
    assert deployments(settings) == [] and live_model(settings) is None


def test_force_deploys_a_model_the_gate_refused_and_says_so(settings):
    switch, rasa, _ = switch_for(settings)

    async def scenario():
        return await (await switch.start("deploy", model="engage-bad", force=True, deployed_by="ops"))

    outcome = asyncio.run(scenario())
    assert outcome.ok and outcome.forced
    assert deployments(settings) == [("deploy", "engage-bad", "engage-old", "ops", None, True, FAILED)]


def test_a_second_switch_is_refused_while_one_runs_and_while_another_gateway_holds(settings):
    switch, rasa, hold = switch_for(settings)

    async def scenario():
        rasa.load_gate = asyncio.Event()
        first = await switch.start("deploy", model="engage-new", deployed_by="a")
        await asyncio.sleep(0.01)
        with pytest.raises(SwitchRefused) as busy:
            await switch.start("deploy", model="engage-bad", force=True, deployed_by="b")
        rasa.load_gate.set()
        assert (await first).ok
        hold.begin("another-gateway")
        with pytest.raises(SwitchRefused) as elsewhere:
            await switch.start("rollback", deployed_by="c")
        return busy.value.reason, elsewhere.value.reason

    busy, elsewhere = asyncio.run(scenario())
    assert "under way on this gateway" in busy and "Another gateway" in elsewhere
    loads = [call for call in rasa.calls if call[0] == "load"]
    assert loads == [("load", str(settings.models_dir / "engage-new.tar.gz"))]


def test_a_failed_load_leaves_the_old_model_live_releases_the_hold_and_audits(settings):
    set_live_model(settings, settings.models_dir / "engage-old.tar.gz")
    switch, rasa, hold = switch_for(settings)
    rasa.load_error = RasaUnavailable("HTTP 400: the model file is damaged")

    async def scenario():
        return await (await switch.start("deploy", model="engage-new", deployed_by="ops"))

    outcome = asyncio.run(scenario())
    assert not outcome.ok
    assert "damaged" in outcome.message and "engage-old is still live" in outcome.message
    assert not hold.held() and not switch.running
    assert live_model(settings) == settings.models_dir / "engage-old.tar.gz"
    assert deployments(settings) == [] and audit_actions(settings) == ["model.deploy_failed"]


def test_a_load_rasa_does_not_confirm_is_a_failure(settings):
    switch, rasa, hold = switch_for(settings)
    rasa.load_leaves = "engage-old.tar.gz"

    async def scenario():
        return await (await switch.start("deploy", model="engage-new", deployed_by="ops"))

    outcome = asyncio.run(scenario())
    assert not outcome.ok and "reports engage-old" in outcome.message and "still live" in outcome.message
    assert deployments(settings) == [] and not hold.held()


def test_a_switch_is_refused_when_rasa_does_not_say_what_it_has_loaded(settings):
    switch, rasa, _ = switch_for(settings)
    rasa.status_error = RasaUnavailable("connection refused")
    with pytest.raises(SwitchRefused) as refused:
        asyncio.run(switch.start("deploy", model="engage-new", deployed_by="ops"))
    assert refused.value.status == 503 and rasa.calls == []


def test_rollback_returns_to_the_model_the_live_one_replaced(settings):
    switch, rasa, _ = switch_for(settings)

    async def scenario():
        with pytest.raises(SwitchRefused) as nothing_yet:
            await switch.start("rollback", deployed_by="ops")
        assert "nothing to roll back to" in nothing_yet.value.reason
        assert (await (await switch.start("deploy", model="engage-new", deployed_by="ops"))).ok
        return await (await switch.start("rollback", deployed_by="ops"))

    outcome = asyncio.run(scenario())
    assert outcome.ok and (outcome.kind, outcome.model, outcome.previous) == ("rollback", "engage-old", "engage-new")
    assert rasa.loaded == "engage-old.tar.gz"
    assert [row[:3] for row in deployments(settings)] == [("deploy", "engage-new", "engage-old"),
                                                         ("rollback", "engage-old", "engage-new")]
    assert audit_actions(settings) == ["model.deploy", "model.rollback"]


def test_rollback_is_refused_when_the_previous_model_is_gone(settings):
    switch, _, _ = switch_for(settings)

    async def scenario():
        assert (await (await switch.start("deploy", model="engage-new", deployed_by="ops"))).ok
        (settings.models_dir / "engage-old.tar.gz").unlink()
        await switch.start("rollback", deployed_by="ops")

    with pytest.raises(SwitchRefused) as refused:
        asyncio.run(scenario())
    assert refused.value.status == 404 and "engage-old" in refused.value.reason


# The rasa client: what counts as in flight, and which errors are safe to send again.

def test_the_rasa_client_counts_messages_in_flight_and_tells_unsent_from_unanswered(settings):
    release = asyncio.Event()

    async def handler(request):
        if b"unsent" in request.content:
            raise httpx.ConnectError("connection refused")
        if b"slow" in request.content:
            await release.wait()
        return httpx.Response(200, json=[{"text": "ok"}])

    async def scenario():
        client = RasaClient(settings)
        await client._http.aclose()
        client._http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        slow = asyncio.create_task(client.send("c", "slow", {}))
        await asyncio.sleep(0.01)
        assert await client.wait_idle(0.05) == 1
        release.set()
        assert await client.wait_idle(2) == 0 and await slow == [{"text": "ok"}]
        with pytest.raises(RasaUnreachable):
            await client.send("c", "unsent", {})
        assert await client.wait_idle(0) == 0
        await client.close()

    asyncio.run(scenario())


# The visitor path while a switch holds messages (the gateway in-process, Rasa faked).

@pytest.fixture
def gateway(settings, monkeypatch):
    monkeypatch.setattr(gateway_app, "RasaClient", FakeRasa)
    monkeypatch.setattr(relay, "SWITCH_RETRY_SECONDS", 0.2)
    app = gateway_app.create_app(settings.copy(update={"crisis_reply_seconds": 10.0}))
    with TestClient(app) as client:
        yield client


def test_a_crisis_is_answered_at_once_while_held_even_behind_a_held_message(gateway):
    rasa, hold = gateway.app.state.rasa, gateway.app.state.hub.relay.hold
    with gateway.websocket_connect("/ws") as ws:
        hello(ws)
        gateway.portal.call(hold.begin, "switch-1")
        ws.send_json({"type": "message", "client_id": "c-first", "text": "what is iop"})
        assert [receive_json(ws, 2)["type"] for _ in range(2)] == ["ack", "typing"]
        started = time.monotonic()
        answer = ask(ws, CRISIS, timeout=2)[-1]
        assert time.monotonic() - started < 1.5
        assert answer["urgent"] and "988" in " ".join(m["text"] for m in answer["messages"])
        assert rasa.sent() == [] and hold.held()
        gateway.portal.call(hold.end, "switch-1")
        frames = [receive_json(ws, 5) for _ in range(4)]
    first = next(frame for frame in frames if frame.get("reply_to") == "c-first")
    assert first["messages"][0]["text"] == "An answer from the fake Rasa."
    # Both messages reach Rasa, in order, once the switch is over.
    assert rasa.sent() == ["what is iop", CRISIS]
    assert not [frame for frame in frames if frame["type"] == "error"]


def test_a_message_waits_for_the_release_then_goes_to_rasa(gateway):
    rasa, hold = gateway.app.state.rasa, gateway.app.state.hub.relay.hold
    with gateway.websocket_connect("/ws") as ws:
        hello(ws)
        gateway.portal.call(hold.begin, "switch-1")
        ws.send_json({"type": "message", "client_id": "c-1", "text": "what is iop"})
        assert [receive_json(ws, 2)["type"] for _ in range(2)] == ["ack", "typing"]
        with pytest.raises(NoFrame):
            receive_json(ws, 0.5)
        assert rasa.sent() == []
        gateway.portal.call(hold.end, "switch-1")
        frames = [receive_json(ws, 5) for _ in range(2)]
    assert frames[-1]["type"] == "bot" and frames[-1]["reply_to"] == "c-1"
    assert rasa.sent() == ["what is iop"]
    assert gateway.app.state.metrics.value("messages_held_for_model_switch") == 1


def test_a_hold_nobody_releases_lets_messages_go_after_model_switch_seconds(settings, monkeypatch):
    monkeypatch.setattr(gateway_app, "RasaClient", FakeRasa)
    with TestClient(gateway_app.create_app(settings.copy(update={"model_switch_seconds": 0.6}))) as client:
        hold = client.app.state.hub.relay.hold
        with client.websocket_connect("/ws") as ws:
            hello(ws)
            client.portal.call(hold.begin, "switch-of-a-gateway-that-died")
            started = time.monotonic()
            answer = ask(ws, "what is iop", timeout=5)[-1]
    assert answer["type"] == "bot" and 0.5 <= time.monotonic() - started < 3


def test_a_message_that_could_not_reach_rasa_during_a_switch_is_sent_again(gateway):
    rasa, hold = gateway.app.state.rasa, gateway.app.state.hub.relay.hold
    rasa.send_errors = [RasaUnreachable("connection refused"), RasaUnreachable("connection refused")]
    with gateway.websocket_connect("/ws") as ws:
        hello(ws)
        gateway.portal.call(hold.begin, "switch-1")
        ws.send_json({"type": "message", "client_id": "c-1", "text": "what is iop"})
        assert [receive_json(ws, 2)["type"] for _ in range(2)] == ["ack", "typing"]
        gateway.portal.call(hold.end, "switch-1")
        frames = [receive_json(ws, 5) for _ in range(2)]
    assert frames[-1]["type"] == "bot" and frames[-1]["reply_to"] == "c-1"
    assert rasa.sent() == ["what is iop"] * 3
    assert gateway.app.state.metrics.value("messages_resent_after_model_switch") == 2


def test_without_a_switch_an_unreachable_rasa_is_not_retried(gateway):
    rasa = gateway.app.state.rasa
    rasa.send_errors = [RasaUnreachable("connection refused")]
    with gateway.websocket_connect("/ws") as ws:
        hello(ws)
        answer = ask(ws, "what is iop", timeout=5)[-1]
    assert answer["type"] == "error" and answer["code"] == "assistant_unavailable"
    assert rasa.sent() == ["what is iop"]
