"""Per-conversation message rate and per-IP connection limits (in this gateway process)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Deque, Dict, Optional


class MessageRateLimit:
    """At most `per_minute` messages in any 60-second window, per conversation."""

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sent: Dict[str, Deque[float]] = defaultdict(deque)
        self._last_prune = clock()

    def retry_after(self, conversation_id: str) -> Optional[float]:
        """None if a message may be sent now (and counts it), else seconds to wait."""
        now = self._clock()
        if now - self._last_prune > 60:
            self._forget_idle(now)
        sent = self._sent[conversation_id]
        while sent and now - sent[0] >= 60:
            sent.popleft()
        if len(sent) >= self.per_minute:
            return round(60 - (now - sent[0]), 1)
        sent.append(now)
        return None


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

    def _forget_idle(self, now: float) -> None:
        """Drop conversations with no message in the last minute, so memory stays bounded."""
        for conversation_id in [c for c, sent in self._sent.items() if not sent or now - sent[-1] >= 60]:
            del self._sent[conversation_id]
        self._last_prune = now
