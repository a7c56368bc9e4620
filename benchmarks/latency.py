"""Server ready time, /model/parse and REST reply latency, growth over a long conversation, RSS.

Run: `make bench` (or `.venv/bin/python -m benchmarks latency`).
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import List

import requests

from benchmarks.stats import rss_mb, summary_ms
from devtools.local_stack import running_stack

MESSAGES = [
    "is kratom addictive", "what is iop", "can i keep my job during treatment", "do you take medicaid",
    "how long does kratom withdrawal last", "do you do emdr", "where are you located", "is this confidential",
    "my son is using kratom how can i help", "what therapies do you offer", "how do i get started",
    "is kratom legal in missouri", "tell me more", "thanks", "do you treat alcohol too",
]

LONG_CONVERSATIONS = 3


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main(count: int = 300) -> dict:
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        with running_stack(f"sqlite:///{tmp}/tracker.db", Path(tmp) / "logs") as stack:
            figures["ready_s"] = stack.ready_seconds
            print(f"servers ready in {stack.ready_seconds:.1f} s")
            session = requests.Session()
            token = {"token": stack.settings.rasa_token}

            def parse(text: str) -> None:
                response = session.post(f"{stack.rasa_url}/model/parse", params=token, json={"text": text}, timeout=30)
                response.raise_for_status()

            def send(sender: str, text: str) -> None:
                reply = session.post(stack.rest_url, json={"sender": sender, "message": text}, timeout=30,
                                     headers=stack.channel_headers)
                reply.raise_for_status()

            for text in MESSAGES:  # warm-up
                parse(text)
                send("warm-up", text)

            texts = list(itertools.islice(itertools.cycle(MESSAGES), count))
            parse_times = [timed(lambda t=t: parse(t)) for t in texts]
            print(f"/model/parse        {summary_ms(parse_times)}")

            # 30 conversations of 10 messages: typical visitor length, new-session cost included.
            senders = [f"bench-{uuid.uuid4().hex}" for _ in range(count // 10)]
            reply_times = [timed(lambda s=s, t=t: send(s, t)) for s in senders for t in MESSAGES[:10]]
            print(f"REST reply          {summary_ms(reply_times)}")

            # Long conversations, compared at the same texts (one cycle of MESSAGES) early and late,
            # in several conversations so one slow moment does not decide the ratio.
            cycle = len(MESSAGES)
            early: List[float] = []
            late: List[float] = []
            later: List[float] = []
            for _ in range(LONG_CONVERSATIONS):
                long_sender = f"bench-long-{uuid.uuid4().hex}"
                conversation = itertools.islice(itertools.cycle(MESSAGES), 20 * cycle + cycle)
                growth = [timed(lambda s=long_sender, t=t: send(s, t)) for t in conversation]
                early += growth[:cycle]
                late += growth[10 * cycle:11 * cycle]
                later += growth[20 * cycle:]
            ratio = statistics.mean(late) / statistics.mean(early)
            print(f"messages 1-{cycle:<13} {summary_ms(early)}")
            print(f"messages {10 * cycle + 1}-{11 * cycle:<9} {summary_ms(late)}")
            print(f"messages {20 * cycle + 1}-{21 * cycle:<9} {summary_ms(later)}")
            print(f"late / early mean   {ratio:.2f}x  ({LONG_CONVERSATIONS} conversations)")

            rasa_process, action_process = stack.processes["rasa"], stack.processes["actions"]
            figures.update(
                parse_p50_ms=sorted(parse_times)[len(parse_times) // 2] * 1000,
                reply_times=reply_times,
                growth_ratio=ratio,
                rasa_rss_mb=rss_mb(rasa_process.pid),
                actions_rss_mb=rss_mb(action_process.pid),
            )
            print(f"rasa server RSS     {figures['rasa_rss_mb']:.0f} MB   "
                  f"action server RSS {figures['actions_rss_mb']:.0f} MB")
    return figures


if __name__ == "__main__":
    main()
