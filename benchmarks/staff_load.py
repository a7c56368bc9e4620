"""`make bench-staff`: do staff signing in and refreshing the queue slow the visitors' chat?

The real stack on SQLite. N visitors chat through the gateway's websocket without a break
(staggered, with varied pauses) while S staff members' browsers are switched on and off in turns
of `--window` seconds. In each "on" turn every staff member signs in afresh (an argon2 check) and
then reloads the queue page and its rows every `--staff-think` seconds until the turn ends.

Each reply counts for the turn its message was sent in, leaving out messages sent in the first
`--settle` seconds after a switch (work begun in one turn and finished in the next). Short
interleaved turns let both conditions share the same minutes of the machine: this VM's CPU steal
moves p95 by up to 2x from one minute to the next, which long alone-then-busy phases measured as
if it were the staff's doing.

The staff's browsers run in their own process at the lowest CPU priority: they stand for the
staff's own computers, and on this 2-core machine their page parsing would otherwise count as
server load. Reply latency is from sending a message to its `bot` frame.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import multiprocessing
import os
import re
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

import httpx

from benchmarks.chat_load import READ_SECONDS, gateway_visitor, report, run_load
from bot.store import StaffMember, hash_password, session_scope, utcnow
from devtools.local_stack import running_stack

PASSWORD = "benchmark staff password"
LOWEST_PRIORITY = 19


def add_staff(db_url: str, count: int) -> List[str]:
    emails = [f"staff{number}@example.org" for number in range(count)]
    password_hash = hash_password(PASSWORD)
    with session_scope(db_url) as session:
        session.add_all(StaffMember(email=email, display_name=f"Staff {number}", password_hash=password_hash,
                                    created_at=utcnow()) for number, email in enumerate(emails))
    return emails


async def sign_in(http: httpx.AsyncClient, email: str) -> bool:
    http.cookies.clear()
    page = await http.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    signed_in = await http.post("/console/login", data={"csrf": csrf and csrf.group(1), "email": email,
                                                        "password": PASSWORD})
    return signed_in.status_code == 303


async def staff_member(base_url: str, email: str, think: float, active, stop) -> Tuple[int, int]:
    """In every "on" turn: sign in afresh, then reload the queue and its rows until the turn ends.
    Returns (requests done, failed rounds)."""
    done, errors = 0, 0
    async with httpx.AsyncClient(base_url=base_url, timeout=READ_SECONDS) as http:
        while not stop.is_set():
            if not active.is_set():
                await asyncio.sleep(0.05)
                continue
            try:
                errors += not await sign_in(http, email)
                done += 2
                while active.is_set() and not stop.is_set():
                    queue = await http.get("/console")
                    rows = await http.get("/console/queue/rows")
                    done += 2
                    errors += (queue.status_code, rows.status_code) != (200, 200)
                    await asyncio.sleep(think)
            except httpx.HTTPError:
                errors += 1
    return done, errors


def staff_process(base_url: str, emails: List[str], think: float, active, stop, results) -> None:
    os.nice(LOWEST_PRIORITY)

    async def everyone() -> List[Tuple[int, int]]:
        return await asyncio.gather(*(staff_member(base_url, email, think, active, stop) for email in emails))

    results.put(asyncio.run(everyone()))


async def visitors_through_turns(ws_url: str, args, active) -> Tuple[List[float], List[float], int, float]:
    """Chat without a break while a switch turns the staff on and off every `args.window` seconds:
    (latencies sent with staff off, with staff on, errors, seconds)."""
    switched_at: List[float] = []

    async def switch() -> None:
        staff_on = False
        while True:
            switched_at.append(time.perf_counter())
            active.set() if staff_on else active.clear()
            await asyncio.sleep(args.window)
            staff_on = not staff_on

    async def visitor() -> Tuple[List[Tuple[float, float]], int]:
        sent_at: List[float] = []
        latencies, errors = await gateway_visitor(ws_url, args.messages, args.think, staggered=True,
                                                  sent_at=sent_at)
        return list(zip(sent_at, latencies, strict=True)), errors

    switcher = asyncio.create_task(switch())
    started = time.perf_counter()
    try:
        results = await asyncio.gather(*(visitor() for _ in range(args.visitors)), return_exceptions=True)
    finally:
        switcher.cancel()
        active.clear()
    elapsed = time.perf_counter() - started
    alone: List[float] = []
    busy: List[float] = []
    errors = 0
    for result in results:
        if isinstance(result, BaseException):
            errors += args.messages
            continue
        replies, failed = result
        errors += failed
        for sent, latency in replies:
            turn = bisect.bisect_right(switched_at, sent) - 1
            if turn < 0 or sent - switched_at[turn] < args.settle:
                continue
            (busy if turn % 2 else alone).append(latency)
    return alone, busy, errors, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.staff_load")
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--messages", type=int, default=120, help="messages per visitor (about 2.5 minutes)")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a visitor's messages")
    parser.add_argument("--staff", type=int, default=5)
    # A staff member reloading the queue every second is already far busier than a real shift; 0 makes
    # the staff a flood that takes whatever CPU the chat leaves.
    parser.add_argument("--staff-think", type=float, default=1.0, help="seconds between a staff member's reloads")
    parser.add_argument("--window", type=float, default=10.0, help="seconds of each turn with or without staff")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after a switch that count for neither")
    args = parser.parse_args()
    print(f"{args.visitors} visitors x {args.messages} messages, {args.think} s think time; {args.staff} staff "
          f"signing in every {args.window * 2:.0f} s and reloading the queue every {args.staff_think} s, "
          f"in turns of {args.window:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        # The load is one message a second per visitor, three times what the per-conversation limit
        # lets a person type; the benchmark measures latency, not the limiter.
        with running_stack(f"sqlite:///{tmp}/tracker.db", Path(tmp) / "logs", with_gateway=True,
                           messages_per_minute=args.messages * 2) as stack:
            ws_url = stack.gateway_url.replace("http", "ws") + "/ws"
            emails = add_staff(stack.settings.app_db_url, args.staff)
            context = multiprocessing.get_context("spawn")
            active, stop, results = context.Event(), context.Event(), context.Queue()
            staff = context.Process(target=staff_process,
                                    args=(stack.gateway_url, emails, args.staff_think, active, stop, results))
            staff.start()
            try:
                # Warm the chat path and the console (model caches, templates) so neither turn pays for it.
                active.set()
                asyncio.run(run_load(lambda: gateway_visitor(ws_url, 5, 0.5), 5))
                active.clear()
                alone, busy, errors, elapsed = asyncio.run(visitors_through_turns(ws_url, args, active))
            finally:
                stop.set()
            staff_done = results.get(timeout=READ_SECONDS * 2)
            staff.join(READ_SECONDS)
    alone_p95 = report("alone", alone, 0, elapsed / 2)
    busy_p95 = report("w/ staff", busy, 0, elapsed / 2)
    print(f"visitor messages unanswered or failed: {errors}")
    print(f"staff requests {sum(done for done, _ in staff_done)}, "
          f"staff failures {sum(failed for _, failed in staff_done)}")
    print(f"p95 with staff / p95 alone = {busy_p95 / alone_p95:.2f} (target <= 1.30)")


if __name__ == "__main__":
    main()
