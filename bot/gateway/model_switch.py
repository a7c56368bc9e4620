"""Switching the rasa server to another trained model without dropping a visitor message
(docs/deploying.md).

A switch, run by the gateway that was asked (console or CLI through the internal API): announce a
hold to every gateway on the event bus, let this gateway's messages already with Rasa finish, PUT
/model, check that /status reports the new model, point `models/live.txt` at it, record the
deployment and audit it, release the hold. If anything fails the old model stays live (Rasa keeps
its agent when a load fails), the hold is released and the failure is audited, logged and returned.

Rasa's PUT /model blocks its event loop for the whole load (measured: about 2 s on two cores, and
no request answered meanwhile). So while a switch is announced, each gateway waits before sending a
visitor message to Rasa (`SwitchHold`, at most MODEL_SWITCH_SECONDS), instead of letting messages
queue up behind the load and spend their own timeout there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Optional

from sqlalchemy import select

from bot.domain.model_registry import UnknownModel, model_file, name_of, read_evaluation, set_live_model
from bot.gateway.event_bus import Event, EventBus
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.settings import Settings
from bot.store import ModelDeployment, audit, session_scope, utcnow

logger = logging.getLogger(__name__)

HOLD_EVENT = "model_switch"
# A held message re-reads the hold's deadline this often; a release wakes it at once.
HOLD_POLL_SECONDS = 0.5
# How many ended switches a gateway remembers, so a late copy of a switch's "hold" never starts it again.
ENDED_REMEMBERED = 32
# Generous: the load took about 2 s here; a slow disk or a busy host may take many times that.
LOAD_TIMEOUT_SECONDS = 180.0
KINDS = ("deploy", "rollback")

Progress = Callable[[str], None]


class SwitchRefused(Exception):
    """The switch was not started; nothing changed. `status` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int = 409) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class HoldReport:
    """What a hold kept waiting on this gateway: how many messages, and the longest wait."""

    messages: int = 0
    longest_seconds: float = 0.0


class SwitchHold:
    """This gateway's hold on visitor messages while a model switch (here or on another gateway) is
    announced. Each hold ends when its switch releases it or, should that never come (the switching
    gateway died), `seconds` after it began."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic,
                 poll_seconds: float = HOLD_POLL_SECONDS) -> None:
        self.seconds = seconds
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._deadlines: Dict[str, float] = {}
        self._ended: Deque[str] = deque(maxlen=ENDED_REMEMBERED)
        self._timed_out: Deque[str] = deque(maxlen=ENDED_REMEMBERED)
        self._ended_at: Optional[float] = None
        self._released = asyncio.Event()
        self._messages = 0
        self._first_wait_at: Optional[float] = None

    def held(self) -> bool:
        now = self._clock()
        self._warn_of_timed_out(now)
        return any(deadline > now for deadline in self._deadlines.values())

    def _warn_of_timed_out(self, now: float) -> None:
        """A hold its switch never released means that switch failed, or its gateway died: say so once."""
        for switch_id, deadline in self._deadlines.items():
            if deadline <= now and switch_id not in self._timed_out:
                self._timed_out.append(switch_id)
                logger.warning("model switch %s was not released within %.0f s (MODEL_SWITCH_SECONDS): visitor "
                               "messages go to Rasa again; check the gateway that ran it", switch_id, self.seconds)

    def active_within(self, seconds: float) -> bool:
        """Held now, or a hold ended less than `seconds` ago."""
        now = self._clock()
        moments = [min(deadline, now) for deadline in self._deadlines.values()]
        if self._ended_at is not None:
            moments.append(self._ended_at)
        return bool(moments) and now - max(moments) <= seconds

    def begin(self, switch_id: str) -> None:
        if switch_id in self._ended or switch_id in self._deadlines:
            return
        now = self._clock()
        if not self.held():
            self._deadlines.clear()
            self._messages, self._first_wait_at = 0, None
        self._deadlines[switch_id] = now + self.seconds

    def end(self, switch_id: str) -> HoldReport:
        """Release one switch's hold; what it kept waiting, while it lasted."""
        deadline = self._deadlines.pop(switch_id, None)
        if deadline is None:
            return HoldReport()
        self._ended.append(switch_id)
        now = self._clock()
        self._ended_at = min(now, deadline)
        longest = max(0.0, self._ended_at - self._first_wait_at) if self._first_wait_at is not None else 0.0
        report = HoldReport(self._messages, longest)
        released, self._released = self._released, asyncio.Event()
        released.set()
        return report

    async def wait(self) -> float:
        """Wait while held (until released, or the deadline); the seconds waited."""
        if not self.held():
            return 0.0
        started = self._clock()
        self._messages += 1
        if self._first_wait_at is None:
            self._first_wait_at = started
        while self.held():
            remaining = max(self._deadlines.values()) - self._clock()
            try:
                await asyncio.wait_for(self._released.wait(), timeout=min(self._poll_seconds, max(remaining, 0)))
            except asyncio.TimeoutError:
                pass
        return self._clock() - started

    async def on_event(self, event: Event) -> None:
        """The event bus handler: every gateway's hold follows every switch's announcements."""
        if event.get("kind") != HOLD_EVENT or not isinstance(event.get("switch_id"), str):
            return
        if event.get("state") == "hold":
            self.begin(event["switch_id"])
        elif event.get("state") == "release":
            self.end(event["switch_id"])


def hold_event(state: str, switch_id: str) -> Event:
    """A switch's announcement to every gateway: state "hold" or "release"."""
    return {"kind": HOLD_EVENT, "state": state, "switch_id": switch_id}


def gate_passed(evaluation: Optional[Dict[str, Any]]) -> bool:
    gate = evaluation.get("gate") if evaluation else None
    return isinstance(gate, dict) and gate.get("passed") is True


def gate_refusal(name: str, evaluation: Optional[Dict[str, Any]]) -> str:
    if evaluation is None:
        return (f"{name} has not been evaluated, so it has not passed the regression gate. Evaluate it first, "
                "or deploy it with --force from the command line.")
    gate = evaluation.get("gate")
    reasons = gate.get("reasons") if isinstance(gate, dict) else None
    why = "; ".join(str(reason) for reason in reasons) if isinstance(reasons, list) and reasons else (
        "no gate verdict in its evaluation" if not isinstance(gate, dict) else "see its evaluation")
    return (f"{name} did not pass the regression gate ({why}). Deploying it anyway needs --force, from the "
            "command line.")


def rollback_target(db_url: str, live: str) -> Optional[str]:
    """The model the live one replaced when it was last made live, or None if that was never recorded."""
    with session_scope(db_url) as session:
        row = session.execute(select(ModelDeployment).where(ModelDeployment.model_name == live)
                              .order_by(ModelDeployment.id.desc()).limit(1)).scalar_one_or_none()
        return row.previous_model if row is not None else None


@dataclass(frozen=True)
class SwitchPlan:
    kind: str
    target: Path
    current: str
    evaluation: Optional[Dict[str, Any]]
    forced: bool
    staff_id: Optional[int]
    deployed_by: str

    @property
    def name(self) -> str:
        return name_of(self.target)


@dataclass(frozen=True)
class SwitchOutcome:
    ok: bool
    kind: str
    model: str
    previous: str
    message: str
    forced: bool = False
    load_seconds: Optional[float] = None
    held_messages: int = 0
    longest_hold_seconds: float = 0.0
    deployment_id: Optional[int] = None

    def as_json(self) -> Dict[str, Any]:
        return asdict(self)


def _quiet(step: str) -> None:
    return None


class ModelSwitch:
    """One switch at a time on this gateway; none while another gateway's switch holds messages."""

    def __init__(self, settings: Settings, rasa: RasaClient, bus: EventBus, hold: SwitchHold,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._rasa = rasa
        self._bus = bus
        self._hold = hold
        self._clock = clock
        self._running = False
        self._task: Optional["asyncio.Task[SwitchOutcome]"] = None
        bus.subscribe(hold.on_event)

    @property
    def running(self) -> bool:
        return self._running

    async def start(self, kind: str, *, deployed_by: str, staff_id: Optional[int] = None,
                    model: Optional[str] = None, force: bool = False,
                    progress: Optional[Progress] = None) -> "asyncio.Task[SwitchOutcome]":
        """Check the request and start the switch; SwitchRefused (nothing changed) if it may not run.

        The switch runs in a task of its own: a caller that goes away (a closed browser tab, a killed
        CLI) does not cut a load off halfway.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown switch kind {kind!r}")
        if self._running:
            raise SwitchRefused("Another model switch is under way on this gateway; try again when it has finished.")
        if self._hold.held():
            raise SwitchRefused("Another gateway is switching the model now; try again when it has finished.")
        self._running = True
        try:
            plan = await self._plan(kind, model, force, staff_id, deployed_by)
        except BaseException:
            self._running = False
            raise
        # Held here too: the event loop keeps only a weak reference to a task.
        self._task = asyncio.create_task(self._run(plan, progress or _quiet))
        return self._task

    async def _plan(self, kind: str, model: Optional[str], force: bool, staff_id: Optional[int],
                    deployed_by: str) -> SwitchPlan:
        current = await self._loaded_name()
        if current is None:
            raise SwitchRefused("The rasa server did not say which model it has loaded; nothing was changed.", 503)
        if kind == "rollback":
            model = await asyncio.to_thread(rollback_target, self._settings.app_db_url, current)
            if model is None:
                raise SwitchRefused(f"No earlier model is recorded for {current}: there is nothing to roll back to.")
        try:
            target = await asyncio.to_thread(model_file, self._settings, model or "")
        except UnknownModel as exc:
            raise SwitchRefused(f"{exc}; nothing was changed.", 404) from exc
        if name_of(target) == current:
            raise SwitchRefused(f"{current} is already the live model.")
        evaluation = await asyncio.to_thread(read_evaluation, target)
        passed = gate_passed(evaluation)
        # A rollback returns to the model that was live before this one, gate or no gate.
        if kind == "deploy" and not passed and not force:
            raise SwitchRefused(gate_refusal(name_of(target), evaluation))
        return SwitchPlan(kind, target, current, evaluation, kind == "deploy" and not passed, staff_id,
                          deployed_by[:100])

    async def _run(self, plan: SwitchPlan, progress: Progress) -> SwitchOutcome:
        switch_id = uuid.uuid4().hex
        hold_report = HoldReport()
        load_seconds: Optional[float] = None
        deployment_id: Optional[int] = None
        failure: Optional[str] = None
        try:
            await self._announce("hold", switch_id)
            self._step(progress, f"{plan.kind}: holding visitor messages on every gateway "
                                 f"(at most {self._settings.model_switch_seconds:.0f} s)")
            still_sending = await self._rasa.wait_idle(self._settings.rasa_timeout_seconds)
            if still_sending:
                self._step(progress, f"{still_sending} visitor messages still with Rasa; loading anyway")
            self._step(progress, f"loading {plan.name} on the rasa server")
            started = self._clock()
            try:
                await self._rasa.load_model(str(plan.target), LOAD_TIMEOUT_SECONDS)
            except RasaUnavailable as exc:
                failure = f"the rasa server did not load it: {exc}"
            load_seconds = self._clock() - started
            live = await self._loaded_name()
            if failure is None and live != plan.name:
                failure = f"after loading it, the rasa server reports {live or 'no model'}"
            if failure is None:
                self._step(progress, f"loaded in {load_seconds:.1f} s; the rasa server reports {plan.name}")
                try:
                    deployment_id = await asyncio.to_thread(self._record, plan)
                except Exception as exc:
                    logger.exception("model switch to %s: loaded, not recorded", plan.name)
                    failure = (f"it is loaded and answering, but recording the deployment failed "
                               f"({type(exc).__name__}: {exc}); live.txt and the history may be behind")
            else:
                after = (f"{plan.current} is still live" if live == plan.current
                         else f"the rasa server now reports {live or 'no model'}: check it")
                failure = f"{failure}; {after}"
        except Exception as exc:
            logger.exception("model switch to %s failed", plan.name)
            failure = f"{type(exc).__name__}: {exc}"
        finally:
            hold_report = await self._announce("release", switch_id)
            self._running = False
        if failure is None:
            message = (f"{plan.name} is live (was {plan.current}); loaded in {load_seconds:.1f} s, "
                       f"{hold_report.messages} visitor messages held for at most "
                       f"{hold_report.longest_seconds:.1f} s.")
            logger.info("model %s: %s", plan.kind, message)
        else:
            message = f"{'Rolling back to' if plan.kind == 'rollback' else 'Deploying'} {plan.name} failed: {failure}."
            logger.error("model %s: %s", plan.kind, message)
            await self._audit_failure(plan, message)
        return SwitchOutcome(failure is None, plan.kind, plan.name, plan.current, message, plan.forced,
                             load_seconds, hold_report.messages, hold_report.longest_seconds, deployment_id)

    def _record(self, plan: SwitchPlan) -> int:
        set_live_model(self._settings, plan.target)
        with session_scope(self._settings.app_db_url) as session:
            row = ModelDeployment(model_name=plan.name, previous_model=plan.current, kind=plan.kind,
                                  staff_id=plan.staff_id, deployed_by=plan.deployed_by, deployed_at=utcnow(),
                                  forced=plan.forced,
                                  evaluation=json.dumps(plan.evaluation) if plan.evaluation is not None else None)
            session.add(row)
            audit.record(session, plan.staff_id, f"model.{plan.kind}",
                         detail=f"{plan.name} replaced {plan.current}{' (forced past the gate)' if plan.forced else ''}"
                                f" by {plan.deployed_by}"[:255])
            session.flush()
            return int(row.id)

    async def _audit_failure(self, plan: SwitchPlan, message: str) -> None:
        try:
            await asyncio.to_thread(audit.record_alone, self._settings.app_db_url, plan.staff_id,
                                    "model.deploy_failed", detail=f"{message} ({plan.deployed_by})"[:255])
        except Exception:
            logger.exception("could not audit the failed model switch to %s", plan.name)

    async def _announce(self, state: str, switch_id: str) -> HoldReport:
        """This gateway's hold first, then every other gateway's through the event bus."""
        report = HoldReport()
        if state == "hold":
            self._hold.begin(switch_id)
        else:
            report = self._hold.end(switch_id)
        try:
            await self._bus.publish(hold_event(state, switch_id))
        except Exception:
            # The other gateways then hold until their own timer ends it, or never hear of the switch.
            logger.exception("could not announce the model switch's %s to the other gateways", state)
        return report

    async def _loaded_name(self) -> Optional[str]:
        try:
            return await self._rasa.loaded_model()
        except RasaUnavailable as exc:
            logger.warning("rasa /status during a model switch: %s", exc)
            return None

    def _step(self, progress: Progress, step: str) -> None:
        logger.info("model switch: %s", step)
        try:
            progress(step)
        except Exception:
            logger.exception("could not report a model switch step")
