"""`make bench-staff`: do staff signing in and refreshing the queue slow the visitors' chat?

The real stack on SQLite. N visitors chat through the gateway's websocket (staggered, with
varied pauses) alone, then while S staff members sign in (an argon2 check each) and refresh the
queue over and over on the same gateway, in alternating rounds; the staff's clients run in their
own process. Reply latency is from sending a message to its `bot` frame; if console work ran on
the gateway's event loop, every visitor would wait for it, and p95 with staff would grow.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import tempfile
from pathlib import Path
from typing import List, Tuple

import httpx

from benchmarks.chat_load import READ_SECONDS, gateway_visitor, report, run_load
from benchmarks.stats import percentile
from bot.local_stack import running_stack
from bot.store import StaffMember, hash_password, session_scope, utcnow

PASSWORD = "benchmark staff password"


def add_staff(db_url: str, count: int) -> List[str]:
    emails = [f"staff{number}@example.org" for number in range(count)]
    password_hash = hash_password(PASSWORD)
    with session_scope(db_url) as session:
        session.add_all(StaffMember(email=email, display_name=f"Staff {number}", password_hash=password_hash,
                                    created_at=utcnow()) for number, email in enumerate(emails))
    return emails


async def staff_member(base_url: str, email: str, think: float, stop) -> Tuple[int, int]:
    """Sign in afresh, look at the queue and refresh its rows, until stopped: (requests done, errors)."""
    done, errors = 0, 0
    async with httpx.AsyncClient(base_url=base_url, timeout=READ_SECONDS) as http:
        while not stop.is_set():
            http.cookies.clear()
            try:
                page = await http.get("/console/login")
                csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
                signed_in = await http.post("/console/login", data={"csrf": csrf and csrf.group(1), "email": email,
                                                                    "password": PASSWORD})
                queue = await http.get("/console")
                rows = await http.get("/console/queue/rows")
                done += 4
                if (signed_in.status_code, queue.status_code, rows.status_code) != (303, 200, 200):
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            await asyncio.sleep(think)
    return done, errors


def staff_process(base_url: str, emails: List[str], think: float, stop, results) -> None:
    async def everyone() -> List[Tuple[int, int]]:
        return await asyncio.gather(*(staff_member(base_url, email, think, stop) for email in emails))

    results.put(asyncio.run(everyone()))


async def with_staff(stack, emails: List[str], think: float, load):
    # The staff's browsers run in their own process, as they would on their own machines: parsing
    # console pages in this process would delay reading the visitors' answers and count as latency.
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    staff = context.Process(target=staff_process, args=(stack.gateway_url, emails, think, stop, results))
    staff.start()
    try:
        visitors = await load()
    finally:
        stop.set()
    done = results.get(timeout=READ_SECONDS * 2)
    staff.join(READ_SECONDS)
    return visitors, done


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.staff_load")
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--messages", type=int, default=15)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a visitor's messages")
    parser.add_argument("--staff", type=int, default=5)
    # A staff member reloading the queue every second is already far busier than a real shift; 0 makes
    # the staff a flood that takes whatever CPU the chat leaves (README "Performance" has both figures).
    parser.add_argument("--staff-think", type=float, default=1.0, help="seconds between a staff member's rounds")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds without and with staff")
    args = parser.parse_args()
    print(f"{args.visitors} visitors x {args.messages} messages, {args.think} s think time; "
          f"{args.staff} staff signing in and refreshing the queue, {args.staff_think} s between rounds")
    with tempfile.TemporaryDirectory() as tmp:
        with running_stack(f"sqlite:///{tmp}/tracker.db", Path(tmp) / "logs", with_gateway=True) as stack:
            ws_url = stack.gateway_url.replace("http", "ws") + "/ws"
            emails = add_staff(stack.settings.app_db_url, args.staff)

            def load():
                return run_load(lambda: gateway_visitor(ws_url, args.messages, args.think, staggered=True),
                                args.visitors)

            # Warm the chat path and the console (model caches, templates) so neither phase pays for it.
            asyncio.run(run_load(lambda: gateway_visitor(ws_url, 3, 0.2), 5))
            asyncio.run(with_staff(stack, emails[:1], 0.0, lambda: asyncio.sleep(5)))
            # Alternating rounds: both conditions see the same database size and the same machine.
            alone: Load = ([], 0, 0.0)
            busy: Load = ([], 0, 0.0)
            staff: List[Tuple[int, int]] = []
            for round_number in range(1, args.rounds + 1):
                alone = merged(alone, asyncio.run(load()))
                with_load, round_staff = asyncio.run(with_staff(stack, emails, args.staff_think, load))
                busy, staff = merged(busy, with_load), staff + round_staff
                print(f"round {round_number}: p95 alone {percentile(alone[0], 95) * 1000:.0f} ms, "
                      f"with staff {percentile(busy[0], 95) * 1000:.0f} ms (all rounds so far)")
    alone_p95 = report("alone", *alone)
    busy_p95 = report("w/ staff", *busy)
    print(f"staff requests {sum(done for done, _ in staff)}, staff errors {sum(errors for _, errors in staff)}")
    print(f"p95 with staff / p95 alone = {busy_p95 / alone_p95:.2f} (target <= 1.30)")


Load = Tuple[List[float], int, float]


def merged(total: Load, more: Load) -> Load:
    return total[0] + more[0], total[1] + more[1], total[2] + more[2]


if __name__ == "__main__":
    main()
