"""Message and new-conversation rates (per conversation and per client address) and per-IP
connection limits, in this gateway process."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Callable, Deque, Dict, Optional

WINDOW_SECONDS = 60.0


class RateLimit:
    """At most `limit` events in any `window_seconds`-long window, per key (a conversation, a client)."""

    def __init__(self, limit: int, window_seconds: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._sent: Dict[str, Deque[float]] = defaultdict(deque)
        self._last_prune = clock()

    def retry_after(self, key: str) -> Optional[float]:
        """None if an event may happen now (and counts it), else seconds to wait."""
        now = self._clock()
        if now - self._last_prune > self.window_seconds:
            self._forget_idle(now)
        sent = self._sent[key]
        while sent and now - sent[0] >= self.window_seconds:
            sent.popleft()
        if len(sent) >= self.limit:
            return round(self.window_seconds - (now - sent[0]), 1)
        sent.append(now)
        return None

    def tracked_keys(self) -> int:
        return len(self._sent)

    def _forget_idle(self, now: float) -> None:
        """Drop keys with no event in the last window, so memory stays bounded."""
        idle = [key for key, sent in self._sent.items() if not sent or now - sent[-1] >= self.window_seconds]
        for key in idle:
            del self._sent[key]
        self._last_prune = now


class ConnectionLimit:
    """At most `per_ip` open websockets from one IP address."""

    def __init__(self, per_ip: int) -> None:
        self.per_ip = per_ip
        self._open: Dict[str, int] = defaultdict(int)

    def acquire(self, ip: str) -> bool:
        if self._open[ip] >= self.per_ip:
            return False
        self._open[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self._open[ip] -= 1
        if self._open[ip] <= 0:
            del self._open[ip]

    def open_connections(self, ip: str) -> int:
        return self._open.get(ip, 0)
