"""Visitors talk through the real gateway for 150 s, past the one- and two-minute marks, and
through a model-switch hold that nobody releases, past its timer.

Every other test runs in a fresh process's first minute, so a fault behind a one-minute timer (the
release whose gateway stopped answering everyone 60 s after it started) passed them all.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import websockets

from bot.gateway.event_bus import EventBus
from bot.gateway.model_switch import hold_event
from devtools.local_stack import Stack, running_stack
from tests.support.artifacts import ARTIFACTS
from tests.support.sockets import NoFrame, recv_json

# Server start-up counts towards the timeout too.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SOAK_SECONDS = 150
ROUND_SECONDS = 10
VISITORS = 3
QUESTIONS = ["what is iop", "is kratom addictive", "do you take insurance", "where are you located",
             "what therapies do you offer", "is this confidential"]
CRISIS = "i want to kill myself"
# A hold announced on the event bus by a gateway that then died: nobody releases it, so it ends
# after MODEL_SWITCH_SECONDS (60 s in production, shortened here to fit a round).
HOLD_SECONDS = 8.0
HELD_ROUND = 6
DEAD_SWITCH = "switch-of-a-gateway-that-died"
SERVER_LOGS = ("gateway.log", "rasa.log", "actions.log")
LOG_PROBLEMS = ("Traceback", "Task exception was never retrieved", "ERROR")

Frame = Dict[str, Any]


@pytest.fixture(scope="module")
def soak_stack(tmp_path_factory, redis_url) -> Iterator[Stack]:
    """Its own three servers, so their clocks start with this test, not with the session; its own
    channel on the real Redis, as a second gateway would share."""
    tracker = tmp_path_factory.mktemp("soak") / "tracker.db"
    with running_stack(f"sqlite:///{tracker}", ARTIFACTS / "soak-logs", with_gateway=True, redis_url=redis_url,
                       redis_channel=f"engage-soak:{uuid.uuid4().hex}", model_switch_seconds=HOLD_SECONDS) as stack:
        yield stack


@dataclass
class Soaked:
    unanswered: List[Tuple[int, str, Optional[Frame]]]
    crisis: Optional[Frame]
    held_seconds: List[float]
    held_crisis: Optional[Frame]
    held_crisis_seconds: float


async def arrive(url: str) -> Any:
    """A new visitor's socket, past the welcome."""
    ws = await websockets.connect(url)
    await ws.send(json.dumps({"type": "hello", "conversation_id": None, "page_url": "https://soak.test/"}))
    while (await recv_json(ws))["type"] != "welcome":
        pass
    return ws


async def answer_to(ws: Any, text: str) -> Optional[Frame]:
    """The gateway's `bot` (or `error`) frame for this message, or None if it stayed silent."""
    client_id = f"c-{uuid.uuid4().hex}"
    await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
    try:
        while True:
            frame = await recv_json(ws)
            if (frame["type"], frame.get("reply_to")) == ("bot", client_id):
                return frame
            if (frame["type"], frame.get("client_id")) == ("error", client_id):
                return frame
    except NoFrame:
        return None


def answered(frame: Optional[Frame]) -> bool:
    return frame is not None and frame["type"] == "bot" and bool(frame["messages"])


async def timed_answer_to(ws: Any, text: str) -> Tuple[Optional[Frame], float]:
    started = time.monotonic()
    frame = await answer_to(ws, text)
    return frame, time.monotonic() - started


async def crisis_while_held(url: str) -> Tuple[Optional[Frame], float]:
    """A new visitor in crisis: seconds from opening the socket to the answer."""
    started = time.monotonic()
    ws = await arrive(url)
    try:
        frame = await answer_to(ws, CRISIS)
        return frame, time.monotonic() - started
    finally:
        await ws.close()


async def soak(stack: Stack) -> Soaked:
    """Each visitor asks every ROUND_SECONDS; in round HELD_ROUND a dead gateway's switch holds them
    and a new visitor in crisis writes; at the end another new visitor in crisis."""
    url = stack.gateway_url.replace("http", "ws") + "/ws"
    dead_gateway = EventBus(stack.settings.redis_url, stack.settings.redis_channel)
    await dead_gateway.start()
    started = time.monotonic()
    unanswered: List[Tuple[int, str, Optional[Frame]]] = []
    held_seconds: List[float] = []
    held_crisis: Tuple[Optional[Frame], float] = (None, -1.0)
    sockets = [await arrive(url) for _ in range(VISITORS)]
    try:
        # The gateway started before `started`, so the last round is at least SOAK_SECONDS into its life.
        for number in range(SOAK_SECONDS // ROUND_SECONDS + 1):
            await asyncio.sleep(max(0.0, started + number * ROUND_SECONDS - time.monotonic()))
            texts = [QUESTIONS[(number + visitor) % len(QUESTIONS)] for visitor in range(VISITORS)]
            at = round(time.monotonic() - started)
            crisis_task = None
            if number == HELD_ROUND:
                await dead_gateway.publish(hold_event("hold", DEAD_SWITCH))
                # The gateway hears it through Redis, as from any other gateway.
                await asyncio.sleep(0.5)
                crisis_task = asyncio.create_task(crisis_while_held(url))
            timed = await asyncio.gather(*(timed_answer_to(ws, text) for ws, text in zip(sockets, texts, strict=True)))
            unanswered += [(at, text, answer) for text, (answer, _) in zip(texts, timed, strict=True)
                           if not answered(answer)]
            if crisis_task is not None:
                held_seconds = [seconds for _, seconds in timed]
                held_crisis = await crisis_task
        sockets.append(await arrive(url))
        crisis = await answer_to(sockets[-1], CRISIS)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
        await dead_gateway.close()
    return Soaked(unanswered, crisis, held_seconds, *held_crisis)


def logged_problems(log_dir: Path) -> List[str]:
    return [f"{name}: {line.strip()}" for name in SERVER_LOGS
            for line in (log_dir / name).read_text(errors="replace").splitlines()
            if any(problem in line for problem in LOG_PROBLEMS)]


def is_crisis_answer(frame: Optional[Frame]) -> bool:
    return frame is not None and answered(frame) and "988" in " ".join(m["text"] for m in frame["messages"])


def test_visitors_are_answered_past_the_one_and_two_minute_marks_and_a_hold_nobody_releases(soak_stack):
    soaked = asyncio.run(soak(soak_stack))
    # Stopped first, so whatever the servers log while shutting down is checked too.
    soak_stack.stop()
    rounds = SOAK_SECONDS // ROUND_SECONDS + 1
    print(f"\n{rounds * VISITORS} messages over {SOAK_SECONDS} s, {len(soaked.unanswered)} unanswered; held by a "
          f"dead gateway's switch: answered after {', '.join(f'{s:.1f}' for s in soaked.held_seconds)} s "
          f"(hold {HOLD_SECONDS:.0f} s), a crisis meanwhile in {soaked.held_crisis_seconds:.2f} s")
    assert soaked.unanswered == [], (f"{len(soaked.unanswered)} of {rounds * VISITORS} messages unanswered "
                                     f"(seconds in, text, frame); first ones: {soaked.unanswered[:6]}")
    assert is_crisis_answer(soaked.crisis), soaked.crisis
    # Held until the hold's own timer ended it (so the hold took effect), then answered.
    assert len(soaked.held_seconds) == VISITORS
    assert all(seconds >= HOLD_SECONDS - 1.5 for seconds in soaked.held_seconds), soaked.held_seconds
    assert is_crisis_answer(soaked.held_crisis), soaked.held_crisis
    assert soaked.held_crisis_seconds <= soak_stack.settings.crisis_reply_seconds + 1.0
    assert f"model switch {DEAD_SWITCH} was not released" in (soak_stack.log_dir / "gateway.log").read_text()
    assert logged_problems(soak_stack.log_dir) == [], f"see {soak_stack.log_dir}"
