"""`make soak` (not run in CI): visitors talk through the gateway of a real stack for minutes.

Each visitor is a websocket client in this process asking a question every few seconds; after
SESSION_MESSAGES questions it leaves and comes back to the same conversation, as returning visitors
do. Prints messages sent, unanswered, reply p50/p95 per minute, each server's RSS at start and end,
and the error lines the servers logged. Exits 1 unless every message was answered, every visit
connected, no server logged an error and no server's RSS grew by more than RSS_GROWTH_TARGET %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import websockets

from benchmarks.latency import MESSAGES
from benchmarks.stats import percentile, rss_mb
from bot.settings import REPO_ROOT
from devtools.local_stack import running_stack

# A reply slower than this counts as unanswered: a visitor would have given up.
ANSWER_SECONDS = 30.0
SESSION_MESSAGES = 10
SERVERS = ("rasa", "actions", "gateway")
LOG_PROBLEMS = ("Traceback", "Task exception was never retrieved", "ERROR")
RSS_GROWTH_TARGET = 10.0

# (seconds into the soak it was sent, seconds to its answer or None if unanswered)
Sample = Tuple[float, Optional[float]]


async def recv_json(ws: Any, seconds: float) -> Dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), max(0.0, seconds)))


async def ask(ws: Any, text: str) -> Optional[float]:
    """Seconds until the gateway answered `text`, or None if it did not within ANSWER_SECONDS."""
    client_id = f"c-{uuid.uuid4().hex}"
    sent = time.monotonic()
    await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
    try:
        while True:
            frame = await recv_json(ws, sent + ANSWER_SECONDS - time.monotonic())
            if frame["type"] == "bot" and frame.get("reply_to") == client_id:
                return time.monotonic() - sent if frame["messages"] else None
            if frame["type"] == "error" and frame.get("client_id") == client_id:
                return None
    except (asyncio.TimeoutError, websockets.ConnectionClosed):
        return None


async def visit(url: str, conversation_id: Optional[str], texts: List[str], until: float, think: float,
                record: Callable[[float, Optional[float]], None]) -> str:
    """One visit: connect, hello (restoring the conversation), ask `texts` until `until`; returns the
    conversation id."""
    async with websockets.connect(url, open_timeout=10, close_timeout=5) as ws:
        await ws.send(json.dumps({"type": "hello", "conversation_id": conversation_id,
                                  "page_url": "https://soak.test/"}))
        while (welcome := await recv_json(ws, ANSWER_SECONDS))["type"] != "welcome":
            pass
        for text in texts:
            if time.monotonic() >= until:
                break
            sent = time.monotonic()
            record(sent, await ask(ws, text))
            await asyncio.sleep(random.uniform(0.5, 1.5) * think)
        return welcome["conversation_id"]


async def visitor(url: str, started: float, until: float, think: float,
                  samples: List[Sample], failed_visits: List[str]) -> None:
    conversation_id: Optional[str] = None
    number = random.randrange(len(MESSAGES))

    def record(sent: float, seconds: Optional[float]) -> None:
        samples.append((sent - started, seconds))

    while time.monotonic() < until:
        texts = [MESSAGES[(number + offset) % len(MESSAGES)] for offset in range(SESSION_MESSAGES)]
        number += SESSION_MESSAGES
        try:
            conversation_id = await visit(url, conversation_id, texts, until, think, record)
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            failed_visits.append(f"{time.monotonic() - started:.0f} s: {exc!r}")
            await asyncio.sleep(think)


async def soak(url: str, visitors: int, seconds: float, think: float,
               pids: Dict[str, int]) -> Tuple[List[Sample], List[str], Dict[int, Dict[str, float]]]:
    samples: List[Sample] = []
    failed_visits: List[str] = []
    started = time.monotonic()
    rss_by_minute: Dict[int, Dict[str, float]] = {}

    async def watch_memory() -> None:
        # At the end of each minute: a steady rise is a leak, a rise that levels off is warm-up.
        for minute in range(int(seconds // 60)):
            await asyncio.sleep(started + (minute + 1) * 60 - time.monotonic())
            rss_by_minute[minute] = {name: rss_mb(pid) for name, pid in pids.items()}

    watcher = asyncio.create_task(watch_memory())
    await asyncio.gather(*(visitor(url, started, started + seconds, think, samples, failed_visits)
                           for _ in range(visitors)))
    watcher.cancel()
    return samples, failed_visits, rss_by_minute


def report_minutes(samples: List[Sample], rss_by_minute: Dict[int, Dict[str, float]]) -> None:
    by_minute: Dict[int, List[Optional[float]]] = defaultdict(list)
    for at, seconds in samples:
        by_minute[int(at // 60)].append(seconds)
    print("minute   sent  unanswered   p50 ms   p95 ms   RSS MB: " + " / ".join(SERVERS))
    for minute in sorted(by_minute):
        answered = [seconds * 1000 for seconds in by_minute[minute] if seconds is not None] or [float("nan")]
        rss = rss_by_minute.get(minute)
        memory = " / ".join(f"{rss[name]:.0f}" for name in SERVERS) if rss else ""
        print(f"{minute + 1:6d} {len(by_minute[minute]):6d} {by_minute[minute].count(None):11d} "
              f"{percentile(answered, 50):8.1f} {percentile(answered, 95):8.1f}   {memory}")


def logged_problems(log_dir: Path) -> List[str]:
    return [f"{name}.log: {line.strip()}" for name in SERVERS
            for line in (log_dir / f"{name}.log").read_text(errors="replace").splitlines()
            if any(problem in line for problem in LOG_PROBLEMS)]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10)
    # 6 s keeps each conversation at about 10 messages a minute, under the gateway's limit of 20.
    parser.add_argument("--think", type=float, default=6.0, help="mean seconds between a visitor's messages")
    parser.add_argument("--logs", type=Path, default=REPO_ROOT / "build" / "soak-logs", help="server logs go here")
    args = parser.parse_args()
    print(f"{args.visitors} visitors for {args.minutes:g} minutes, ~{args.think:g} s between messages; "
          f"server logs in {args.logs}")
    with tempfile.TemporaryDirectory() as tmp:
        # Every simulated visitor comes from 127.0.0.1; the headroom covers a socket still closing
        # on the gateway while its visitor reconnects.
        with running_stack(f"sqlite:///{tmp}/tracker.db", args.logs, with_gateway=True,
                           connections_per_ip=2 * args.visitors) as stack:
            url = stack.gateway_url.replace("http", "ws") + "/ws"
            pids = {name: stack.processes[name].pid for name in SERVERS}
            # Warm up first with every visitor (model caches, connection pools, buffers sized by how many
            # talk at once), so the start RSS is not the empty process.
            asyncio.run(soak(url, args.visitors, 60, args.think, pids))
            rss_start = {name: rss_mb(pid) for name, pid in pids.items()}
            samples, failed_visits, rss_by_minute = asyncio.run(
                soak(url, args.visitors, args.minutes * 60, args.think, pids))
            rss_end = {name: rss_mb(pid) for name, pid in pids.items()}
        problems = logged_problems(args.logs)

    unanswered = sum(seconds is None for _, seconds in samples)
    print(f"messages sent {len(samples)}, unanswered {unanswered}, failed visits {len(failed_visits)}")
    report_minutes(samples, rss_by_minute)
    for name in SERVERS:
        growth = (rss_end[name] / rss_start[name] - 1) * 100
        verdict = "flat" if growth <= RSS_GROWTH_TARGET else "GROWING"
        print(f"RSS {name:8} {rss_start[name]:7.0f} MB -> {rss_end[name]:7.0f} MB  {growth:+5.1f}%  "
              f"({verdict}; target <= {RSS_GROWTH_TARGET:g}%)")
    for line in failed_visits[:5] + problems[:10]:
        print(f"  {line}")
    print(f"server log lines with {' / '.join(LOG_PROBLEMS)}: {len(problems)}")
    growing = [name for name in SERVERS if (rss_end[name] / rss_start[name] - 1) * 100 > RSS_GROWTH_TARGET]
    if unanswered or failed_visits or problems or growing:
        sys.exit(1)


if __name__ == "__main__":
    main()
