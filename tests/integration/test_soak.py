"""Visitors talk through the real gateway for 150 s, past the one- and two-minute marks.

Every other test runs in a fresh process's first minute, so a fault behind a one-minute timer (the
release whose gateway stopped answering everyone 60 s after it started) passed them all.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import websockets

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
SERVER_LOGS = ("gateway.log", "rasa.log", "actions.log")
LOG_PROBLEMS = ("Traceback", "Task exception was never retrieved", "ERROR")

Frame = Dict[str, Any]


@pytest.fixture(scope="module")
def soak_stack(tmp_path_factory) -> Iterator[Stack]:
    """Its own three servers, so their clocks start with this test, not with the session."""
    tracker = tmp_path_factory.mktemp("soak") / "tracker.db"
    with running_stack(f"sqlite:///{tracker}", ARTIFACTS / "soak-logs", with_gateway=True) as stack:
        yield stack


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


async def soak(url: str) -> Tuple[List[Tuple[int, str, Optional[Frame]]], Optional[Frame]]:
    """Each visitor asks every ROUND_SECONDS; then a new visitor in crisis. Returns what went unanswered."""
    started = time.monotonic()
    unanswered: List[Tuple[int, str, Optional[Frame]]] = []
    sockets = [await arrive(url) for _ in range(VISITORS)]
    try:
        # The gateway started before `started`, so the last round is at least SOAK_SECONDS into its life.
        for number in range(SOAK_SECONDS // ROUND_SECONDS + 1):
            await asyncio.sleep(max(0.0, started + number * ROUND_SECONDS - time.monotonic()))
            texts = [QUESTIONS[(number + visitor) % len(QUESTIONS)] for visitor in range(VISITORS)]
            at = round(time.monotonic() - started)
            answers = await asyncio.gather(*(answer_to(ws, text) for ws, text in zip(sockets, texts, strict=True)))
            unanswered += [(at, text, answer) for text, answer in zip(texts, answers, strict=True)
                           if not answered(answer)]
        sockets.append(await arrive(url))
        crisis = await answer_to(sockets[-1], CRISIS)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    return unanswered, crisis


def logged_problems(log_dir: Path) -> List[str]:
    return [f"{name}: {line.strip()}" for name in SERVER_LOGS
            for line in (log_dir / name).read_text(errors="replace").splitlines()
            if any(problem in line for problem in LOG_PROBLEMS)]


def test_visitors_are_answered_past_the_one_and_two_minute_marks(soak_stack):
    unanswered, crisis = asyncio.run(soak(soak_stack.gateway_url.replace("http", "ws") + "/ws"))
    # Stopped first, so whatever the servers log while shutting down is checked too.
    soak_stack.stop()
    rounds = SOAK_SECONDS // ROUND_SECONDS + 1
    assert unanswered == [], (f"{len(unanswered)} of {rounds * VISITORS} messages unanswered "
                              f"(seconds in, text, frame); first ones: {unanswered[:6]}")
    assert answered(crisis) and "988" in " ".join(message["text"] for message in crisis["messages"]), crisis
    assert logged_problems(soak_stack.log_dir) == [], f"see {soak_stack.log_dir}"
