"""A model hot-swapped under visitors: ten visitors chat over websockets through the real gateway while
another real model is deployed (the internal API, as `python -m bot deploy` calls it) and then rolled
back (the CLI itself). No message goes unanswered, none gets `assistant_unavailable`, a crisis sent
during the switch gets 988 and 911 at once, and what is said after the switch is answered by the new
model (Rasa writes each event's `model_id` into its metadata)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import httpx
import pytest
import requests
import websockets
from sqlalchemy import select

from bot.domain.model_registry import live_model, name_of, read_evaluation
from bot.ops.processes import rasa_environment
from bot.ops.training import train_model
from bot.settings import REPO_ROOT, get_settings
from bot.store import AuditEntry, ModelDeployment, session_scope
from devtools.local_stack import Stack, running_stack
from tests.support import log_privacy
from tests.support.artifacts import ARTIFACTS
from tests.support.sockets import NoFrame, recv_json
from tests.support.worse_model import cached_model, write_project

# The first run trains the second model (about two minutes) before the servers start.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

VISITORS = 10
QUESTIONS = ["what is iop", "is kratom addictive", "do you take insurance", "what therapies do you offer",
             "is this confidential", "what is dbt"]
CRISIS = "i want to kill myself"
# Between a visitor's answer and their next message.
THINK_SECONDS = 0.3
CHAT_BEFORE_SECONDS = 4.0
CHAT_AFTER_SECONDS = 4.0
ANSWER_SECONDS = 30.0

Frame = Dict[str, Any]


@pytest.fixture(scope="module")
def second_model(tmp_path_factory) -> Path:
    """A second real model with its own model_id and answers of its own: the deliberately worse one
    (tests/support/worse_model.py), trained once per machine and cached."""
    return cached_model(write_project(tmp_path_factory.mktemp("worse-project")), get_settings())


@pytest.fixture(scope="module")
def swap_stack(postgres_database, second_model, tmp_path_factory) -> Iterator[Stack]:
    """The three servers with a models folder of their own (both models linked in), so live.txt and
    the deployments are this module's alone."""
    current = train_model()
    models = tmp_path_factory.mktemp("models")
    first = models / current.name
    first.symlink_to(current)
    (models / second_model.name).symlink_to(second_model)
    with running_stack(postgres_database, ARTIFACTS / "hot-swap-logs", with_gateway=True, model=first,
                       models_dir=models, messages_per_minute=10_000) as stack:
        yield stack


@dataclass
class Exchange:
    visitor: int
    conversation_id: str
    client_id: str
    sent_at: float
    answered_at: Optional[float]
    frame: Optional[Frame]


@dataclass
class Run:
    exchanges: List[Exchange]
    switch_started: float
    switch_done: float
    crisis: Optional[Frame]
    crisis_seconds: float
    switch: Dict[str, Any]

    def unanswered(self) -> List[Exchange]:
        return [e for e in self.exchanges if e.frame is None or e.frame["type"] != "bot" or not e.frame["messages"]]

    def errors(self) -> List[Frame]:
        return [e.frame for e in self.exchanges if e.frame is not None and e.frame["type"] == "error"]


async def arrive(url: str) -> tuple:
    ws = await websockets.connect(url, open_timeout=10)
    await ws.send(json.dumps({"type": "hello", "conversation_id": None, "page_url": "https://hot-swap.test/"}))
    while True:
        frame = await recv_json(ws)
        if frame["type"] == "welcome":
            return ws, frame["conversation_id"]


async def answer_to(ws: Any, client_id: str, text: str) -> Optional[Frame]:
    """The gateway's `bot` or `error` frame for this message, or None if none came in time."""
    log_privacy.remember(text)
    await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
    deadline = time.monotonic() + ANSWER_SECONDS
    try:
        while True:
            frame = await recv_json(ws, max(0.1, deadline - time.monotonic()))
            if (frame["type"], frame.get("reply_to")) == ("bot", client_id):
                return frame
            if (frame["type"], frame.get("client_id")) == ("error", client_id):
                return frame
    except NoFrame:
        return None


async def keep_asking(visitor: int, ws: Any, conversation_id: str, stop: asyncio.Event,
                      exchanges: List[Exchange]) -> None:
    number = visitor
    while not stop.is_set():
        client_id = f"c-{uuid.uuid4().hex}"
        sent_at = time.monotonic()
        frame = await answer_to(ws, client_id, QUESTIONS[number % len(QUESTIONS)])
        exchanges.append(Exchange(visitor, conversation_id, client_id, sent_at,
                                  time.monotonic() if frame is not None else None, frame))
        number += 1
        await asyncio.sleep(THINK_SECONDS)


Switch = Callable[[Callable[[], None]], Any]


async def chat_through(stack: Stack, switch: Switch) -> Run:
    """Visitors chat before, during and after `switch`, which calls its argument once the hold is
    announced: a new visitor in crisis writes then."""
    url = stack.gateway_url.replace("http", "ws") + "/ws"
    stop = asyncio.Event()
    exchanges: List[Exchange] = []
    visitors = [await arrive(url) for _ in range(VISITORS)]
    askers = [asyncio.create_task(keep_asking(number, ws, conversation_id, stop, exchanges))
              for number, (ws, conversation_id) in enumerate(visitors)]
    crisis: Dict[str, Any] = {}

    async def in_crisis() -> None:
        ws, _ = await arrive(url)
        started = time.monotonic()
        crisis["frame"] = await answer_to(ws, f"c-{uuid.uuid4().hex}", CRISIS)
        crisis["seconds"] = time.monotonic() - started
        await ws.close()

    crisis_tasks: List[asyncio.Task] = []
    try:
        await asyncio.sleep(CHAT_BEFORE_SECONDS)
        started = time.monotonic()
        outcome = await switch(lambda: crisis_tasks.append(asyncio.create_task(in_crisis())))
        done = time.monotonic()
        await asyncio.sleep(CHAT_AFTER_SECONDS)
    finally:
        stop.set()
        await asyncio.gather(*askers, *crisis_tasks)
        await asyncio.gather(*(ws.close() for ws, _ in visitors))
    return Run(exchanges, started, done, crisis.get("frame"), crisis.get("seconds", -1.0), outcome)


def through_internal_api(stack: Stack, model: str) -> Switch:
    """Deploy as `python -m bot deploy MODEL --force` does. Forced: this second model has no evaluation."""
    async def switch(on_hold: Callable[[], None]) -> Dict[str, Any]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=300.0)) as client:
            async with client.stream(
                    "POST", f"{stack.internal_url}/internal/models/deploy",
                    headers={"Authorization": f"Bearer {stack.settings.internal_api_token}"},
                    json={"model": model, "by": "hot-swap-test", "force": True}) as response:
                assert response.status_code == 200, await response.aread()
                async for line in response.aiter_lines():
                    item = json.loads(line)
                    if "holding visitor messages" in item.get("step", ""):
                        on_hold()
                    if "result" in item:
                        return item["result"]
        raise AssertionError("the internal API ended without a result")

    return switch


def through_the_cli(stack: Stack) -> Switch:
    """`python -m bot deploy --rollback`, with the stack's settings in its environment."""
    async def switch(on_hold: Callable[[], None]) -> Dict[str, Any]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "deploy", "--rollback", cwd=str(REPO_ROOT),
            env=rasa_environment(stack.settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        output = []
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), 300)).decode()
            if not line:
                break
            output.append(line)
            if "holding visitor messages" in line:
                on_hold()
        errors = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
        return {"code": await asyncio.wait_for(process.wait(), 30), "output": "".join(output), "stderr": errors}

    return switch


def loaded(stack: Stack) -> Dict[str, Any]:
    return requests.get(f"{stack.rasa_url}/status", params={"token": stack.settings.rasa_token}, timeout=10).json()


def model_ids(stack: Stack, run: Run) -> Dict[str, Optional[str]]:
    """client_id -> the model_id Rasa recorded on that visitor message."""
    found: Dict[str, Optional[str]] = {}
    for conversation_id in {e.conversation_id for e in run.exchanges}:
        for event in stack.events(conversation_id):
            metadata = event.get("metadata") or {}
            if event["event"] == "user" and metadata.get("client_id"):
                found[metadata["client_id"]] = metadata.get("model_id")
    return found


def check_run(stack: Stack, run: Run, old_id: str, new_id: str) -> None:
    assert run.unanswered() == [], f"{len(run.unanswered())} of {len(run.exchanges)} unanswered"
    assert run.errors() == []
    assert run.crisis is not None and run.crisis["urgent"], run.crisis
    assert "988" in " ".join(m["text"] for m in run.crisis["messages"]) and "911" in json.dumps(run.crisis)
    # At once when held (tests/unit/test_model_switch.py); Rasa's own answer, or the gateway's after
    # CRISIS_REPLY_SECONDS, if the switch was over by the time it arrived.
    assert run.crisis_seconds <= stack.settings.crisis_reply_seconds + 1.0
    ids = model_ids(stack, run)
    before = [e for e in run.exchanges if e.answered_at is not None and e.answered_at < run.switch_started]
    after = [e for e in run.exchanges if e.sent_at > run.switch_done]
    assert len(before) >= VISITORS and len(after) >= VISITORS
    assert {ids.get(e.client_id) for e in before} == {old_id}
    assert {ids.get(e.client_id) for e in after} == {new_id}
    during = [e for e in run.exchanges if e.sent_at <= run.switch_done and (e.answered_at or 0) >= run.switch_started]
    slowest = max((e.answered_at or 0) - e.sent_at for e in during) if during else 0.0
    print(f"\n{len(run.exchanges)} messages, {len(during)} around the switch (slowest answer {slowest:.1f} s), "
          f"0 unanswered; switch took {run.switch_done - run.switch_started:.1f} s; crisis answered in "
          f"{run.crisis_seconds:.2f} s")


def deployments(stack: Stack) -> List[ModelDeployment]:
    with session_scope(stack.settings.app_db_url) as session:
        rows = session.execute(select(ModelDeployment).order_by(ModelDeployment.id)).scalars().all()
        session.expunge_all()
        return list(rows)


def audited(stack: Stack) -> List[str]:
    with session_scope(stack.settings.app_db_url) as session:
        return [e.action for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]


def test_a_deploy_under_ten_chatting_visitors_drops_nothing_and_the_new_model_answers(swap_stack, second_model):
    first = loaded(swap_stack)
    audited_before = len(audited(swap_stack))
    if first["model_file"] == second_model.name:
        pytest.fail("the second model is live before the deploy: this module's stack was reused")
    run = asyncio.run(chat_through(swap_stack, through_internal_api(swap_stack, name_of(second_model))))
    result = run.switch
    assert result["ok"], result
    now = loaded(swap_stack)
    assert now["model_file"] == second_model.name and now["model_id"] != first["model_id"]
    check_run(swap_stack, run, first["model_id"], now["model_id"])
    print(f"PUT /model {result['load_seconds']:.2f} s; {result['held_messages']} messages held, the longest "
          f"{result['longest_hold_seconds']:.2f} s")
    assert result["held_messages"] >= 1
    assert live_model(swap_stack.settings).name == second_model.name
    row = deployments(swap_stack)[-1]
    assert (row.kind, row.model_name, row.previous_model, row.deployed_by, row.staff_id, row.forced) == (
        "deploy", name_of(second_model), name_of(Path(first["model_file"])), "hot-swap-test", None, True)
    evaluation = read_evaluation(swap_stack.settings.models_dir / second_model.name)
    assert (json.loads(row.evaluation) if row.evaluation else None) == evaluation
    assert audited(swap_stack)[audited_before:].count("model.deploy") == 1


def test_a_rollback_from_the_cli_under_chatting_visitors_drops_nothing(swap_stack, second_model):
    if loaded(swap_stack)["model_file"] != second_model.name:
        result = asyncio.run(through_internal_api(swap_stack, name_of(second_model))(lambda: None))
        assert result["ok"], result
    before = loaded(swap_stack)
    previous = deployments(swap_stack)[-1].previous_model
    audited_before = len(audited(swap_stack))
    run = asyncio.run(chat_through(swap_stack, through_the_cli(swap_stack)))
    cli = run.switch
    assert cli["code"] == 0, cli
    assert "holding visitor messages" in cli["output"] and f"{previous} is live" in cli["output"]
    now = loaded(swap_stack)
    assert name_of(Path(now["model_file"])) == previous and now["model_id"] != before["model_id"]
    check_run(swap_stack, run, before["model_id"], now["model_id"])
    held = re.search(r"(\d+) visitor messages held for at most ([\d.]+) s", cli["output"])
    assert held is not None, cli["output"]
    print(f"rollback: {held.group(1)} messages held, the longest {held.group(2)} s")
    assert live_model(swap_stack.settings).name == now["model_file"]
    row = deployments(swap_stack)[-1]
    assert (row.kind, row.model_name, row.previous_model, row.staff_id) == (
        "rollback", previous, second_model.name[: -len(".tar.gz")], None)
    # The visitors' own entries (a crisis opens an urgent handoff) interleave with the switch's.
    assert audited(swap_stack)[audited_before:].count("model.rollback") == 1


def test_a_second_deploy_while_one_runs_is_refused(swap_stack, second_model):
    """Through the real servers: the second request is answered at once with the reason."""
    target = second_model if loaded(swap_stack)["model_file"] != second_model.name else None
    name = name_of(target) if target else name_of(Path(deployments(swap_stack)[-1].previous_model or ""))
    headers = {"Authorization": f"Bearer {swap_stack.settings.internal_api_token}"}

    async def both() -> tuple:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=300.0)) as client:
            async with client.stream("POST", f"{swap_stack.internal_url}/internal/models/deploy", headers=headers,
                                     json={"model": name, "by": "first", "force": True}) as first:
                assert first.status_code == 200
                lines = first.aiter_lines()
                await asyncio.wait_for(lines.__anext__(), 30)
                second = await client.post(f"{swap_stack.internal_url}/internal/models/deploy", headers=headers,
                                           json={"model": name, "by": "second", "force": True})
                rest = [json.loads(line) async for line in lines]
                return second, rest[-1]["result"]

    second, result = asyncio.run(both())
    assert second.status_code == 409 and "under way" in second.json()["error"]
    assert result["ok"], result
