"""How long a staff reply takes from the console to the visitor's screen (the websocket frame).

Run: `.venv/bin/python -m benchmarks.staff_reply [--replies 50] [--redis URL]` (also part of
`make bench-chat`). With --redis the reply also travels through Redis pub/sub, as it does when
several gateways run behind a load balancer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import time
import uuid
from pathlib import Path

import requests
import websockets
from sqlalchemy import select

from benchmarks.stats import summary_ms
from bot.store import Handoff, StaffMember, hash_password, session_scope, utcnow
from devtools.local_stack import running_stack

PASSWORD = "benchmark staff password"


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


async def measure(stack, replies: int) -> list:
    with session_scope(stack.settings.app_db_url) as session:
        session.add(StaffMember(email="bench@example.org", display_name="Bench",
                                password_hash=hash_password(PASSWORD), created_at=utcnow()))
    http = requests.Session()
    login = csrf_of(http.get(f"{stack.gateway_url}/console/login").text)
    http.post(f"{stack.gateway_url}/console/login", data={"csrf": login, "email": "bench@example.org",
                                                         "password": PASSWORD})
    csrf = csrf_of(http.get(f"{stack.gateway_url}/console").text)
    async with websockets.connect(stack.gateway_url.replace("http", "ws") + "/ws") as ws:
        await ws.send(json.dumps({"type": "hello", "conversation_id": None}))
        conversation_id = json.loads(await ws.recv())["conversation_id"]
        await ws.send(json.dumps({"type": "message", "client_id": "c-1", "text": "real person please"}))
        while json.loads(await ws.recv())["type"] != "bot":
            pass
        with session_scope(stack.settings.app_db_url) as session:
            handoff_id = session.execute(
                select(Handoff.id).where(Handoff.conversation_id == conversation_id)).scalar_one()
        await asyncio.to_thread(http.post, f"{stack.gateway_url}/console/handoffs/{handoff_id}/claim",
                                data={"csrf": csrf})
        times = []
        for number in range(replies):
            text = f"staff reply {number}"
            started = time.perf_counter()
            sent = asyncio.create_task(asyncio.to_thread(
                http.post, f"{stack.gateway_url}/console/handoffs/{handoff_id}/reply",
                data={"csrf": csrf, "text": text}, allow_redirects=False))
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "bot" and frame.get("role") == "staff" and frame["messages"][0]["text"] == text:
                    times.append(time.perf_counter() - started)
                    break
            await sent
    return times


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.staff_reply")
    parser.add_argument("--replies", type=int, default=50)
    parser.add_argument("--redis", metavar="URL", help="also measure with gateway events through this Redis")
    args = parser.parse_args()
    runs = [("one gateway, in-process events", None)]
    if args.redis:
        runs.append(("through Redis pub/sub", args.redis))
    for label, redis_url in runs:
        with tempfile.TemporaryDirectory() as tmp:
            with running_stack(f"sqlite:///{tmp}/tracker.db", Path(tmp) / "logs", with_gateway=True,
                               redis_url=redis_url, redis_channel=f"engage-bench:{uuid.uuid4().hex}") as stack:
                times = asyncio.run(measure(stack, args.replies))
        print(f"staff reply -> visitor screen, {label:32} {summary_ms(times)}")


if __name__ == "__main__":
    main()
