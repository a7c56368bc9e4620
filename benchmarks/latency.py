"""Server ready time, /model/parse and REST reply latency, growth over a long conversation, RSS.

Run: `make bench` (or `.venv/bin/python -m benchmarks latency`).
"""

from __future__ import annotations

import itertools
import tempfile
import time
import uuid
from pathlib import Path
from typing import List

import requests

from benchmarks.stats import rss_mb, summary_ms
from bot.local_stack import running_stack

MESSAGES = [
    "is kratom addictive", "what is iop", "can i keep my job during treatment", "do you take medicaid",
    "how long does kratom withdrawal last", "do you do emdr", "where are you located", "is this confidential",
    "my son is using kratom how can i help", "what therapies do you offer", "how do i get started",
    "is kratom legal in missouri", "tell me more", "thanks", "do you treat alcohol too",
]


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
                reply = session.post(stack.rest_url, json={"sender": sender, "message": text}, timeout=30)
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

            long_sender = f"bench-long-{uuid.uuid4().hex}"
            conversation = itertools.islice(itertools.cycle(MESSAGES), 310)
            growth: List[float] = [timed(lambda t=t: send(long_sender, t)) for t in conversation]
            early, late, later = growth[:10], growth[150:160], growth[300:310]
            ratio = (sum(late) / len(late)) / (sum(early) / len(early))
            print(f"messages 1-10       {summary_ms(early)}")
            print(f"messages 150-160    {summary_ms(late)}")
            print(f"messages 300-310    {summary_ms(later)}")
            print(f"late / early mean   {ratio:.2f}x")

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
