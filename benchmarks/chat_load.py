"""`make bench-chat`: N simulated visitors through the gateway, then the same load straight to Rasa.

Each visitor is a websocket client in this process sending M messages with a
think time between them; reply latency is from sending a message to its
`bot` frame. The same visitors then talk to Rasa's REST channel directly, so
the gateway's overhead is the ratio of the two p95s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import List, Optional, Tuple

import httpx
import websockets

from benchmarks.latency import MESSAGES
from benchmarks.stats import percentile, rss_mb
from devtools.local_stack import running_stack

# Every read has a deadline, so a stalled gateway shows up as errors rather than a hung run.
READ_SECONDS = 30


async def receive(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), READ_SECONDS))


async def gateway_visitor(url: str, messages: int, think: float, staggered: bool = False,
                          sent_at: Optional[List[float]] = None) -> Tuple[List[float], int]:
    """`staggered`: start at a random moment of the first think time and vary each think time by
    half either way, so visitors do not all send at once (they would, started together with the same
    pause, and p95 would measure how many happened to collide). `sent_at` collects when (monotonic
    clock) each answered message was sent, in the order of the latencies."""
    latencies, errors = [], 0
    pause = (lambda: random.uniform(0.5, 1.5) * think) if staggered else (lambda: think)
    if staggered:
        await asyncio.sleep(random.uniform(0, think))
    async with websockets.connect(url, max_size=2**20, open_timeout=READ_SECONDS) as ws:
        await ws.send(json.dumps({"type": "hello", "conversation_id": None}))
        while (await receive(ws))["type"] != "welcome":
            pass
        for number in range(messages):
            client_id = f"c-{uuid.uuid4().hex}"
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "client_id": client_id,
                                      "text": MESSAGES[number % len(MESSAGES)]}))
            while True:
                frame = await receive(ws)
                if frame["type"] == "bot" and frame["reply_to"] == client_id:
                    latencies.append(time.perf_counter() - started)
                    if sent_at is not None:
                        sent_at.append(started)
                    break
                if frame["type"] == "error":
                    errors += 1
                    break
            await asyncio.sleep(pause())
    return latencies, errors


async def direct_visitor(client: httpx.AsyncClient, url: str, messages: int, think: float) -> Tuple[List[float], int]:
    latencies, errors, sender = [], 0, f"direct-{uuid.uuid4().hex}"
    for number in range(messages):
        started = time.perf_counter()
        try:
            response = await client.post(url, json={"sender": sender, "message": MESSAGES[number % len(MESSAGES)]})
            response.raise_for_status()
            latencies.append(time.perf_counter() - started)
        except httpx.HTTPError:
            errors += 1
        await asyncio.sleep(think)
    return latencies, errors


async def run_load(make_visitor, visitors: int) -> Tuple[List[float], int, float]:
    started = time.perf_counter()
    results = await asyncio.gather(*(make_visitor() for _ in range(visitors)), return_exceptions=True)
    elapsed = time.perf_counter() - started
    latencies, errors = [], 0
    for result in results:
        if isinstance(result, BaseException):
            errors += 1
            continue
        latencies += result[0]
        errors += result[1]
    return latencies, errors, elapsed


def report(name: str, latencies: List[float], errors: int, elapsed: float) -> float:
    ms = [value * 1000 for value in latencies] or [float("nan")]
    p95 = percentile(ms, 95)
    print(f"{name:9} p50 {percentile(ms, 50):6.1f} ms  p95 {p95:6.1f} ms  p99 {percentile(ms, 99):6.1f} ms  "
          f"errors {errors}  {len(latencies) / elapsed:5.1f} msg/s")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chat_load")
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--messages", type=int, default=15)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a visitor's messages")
    args = parser.parse_args()
    print(f"{args.visitors} visitors x {args.messages} messages, {args.think} s think time")
    with tempfile.TemporaryDirectory() as tmp:
        with running_stack(f"sqlite:///{tmp}/tracker.db", Path(tmp) / "logs", with_gateway=True) as stack:
            ws_url = stack.gateway_url.replace("http", "ws") + "/ws"

            async def direct_load(visitors: int, messages: int):
                async with httpx.AsyncClient(timeout=30, headers=stack.channel_headers) as client:
                    return await run_load(
                        lambda: direct_visitor(client, stack.rest_url, messages, args.think), visitors)

            # Warm both paths first (model caches, connection pools), so neither run pays for it.
            asyncio.run(run_load(lambda: gateway_visitor(ws_url, 3, 0.2), 5))
            asyncio.run(direct_load(5, 3))
            gateway = asyncio.run(run_load(lambda: gateway_visitor(ws_url, args.messages, args.think), args.visitors))
            gateway_rss = rss_mb(stack.processes["gateway"].pid)
            direct = asyncio.run(direct_load(args.visitors, args.messages))
            gateway_p95 = report("gateway", *gateway)
            direct_p95 = report("direct", *direct)
            print(f"gateway p95 / direct p95 = {gateway_p95 / direct_p95:.2f} (target <= 1.10)")
            rasa_rss, actions_rss = rss_mb(stack.processes["rasa"].pid), rss_mb(stack.processes["actions"].pid)
            print(f"RSS: gateway {gateway_rss:.0f} MB, rasa {rasa_rss:.0f} MB, actions {actions_rss:.0f} MB")


if __name__ == "__main__":
    main()
