"""Per-conversation message rate and per-IP connection limits (in this gateway process)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Callable, Deque, Dict, Optional

WINDOW_SECONDS = 60.0


class MessageRateLimit:
    """At most `per_minute` messages in any 60-second window, per conversation."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sent: Dict[str, Deque[float]] = defaultdict(deque)
        self._last_prune = clock()

    def retry_after(self, conversation_id: str) -> Optional[float]:
        """None if a message may be sent now (and counts it), else seconds to wait."""
        now = self._clock()
        if now - self._last_prune > WINDOW_SECONDS:
            self._forget_idle(now)
        sent = self._sent[conversation_id]
        while sent and now - sent[0] >= WINDOW_SECONDS:
            sent.popleft()
        if len(sent) >= self.per_minute:
            return round(WINDOW_SECONDS - (now - sent[0]), 1)
        sent.append(now)
        return None

    def tracked_conversations(self) -> int:
        return len(self._sent)

    def _forget_idle(self, now: float) -> None:
        """Drop conversations with no message in the last minute, so memory stays bounded."""
        idle = [key for key, sent in self._sent.items() if not sent or now - sent[-1] >= WINDOW_SECONDS]
        for conversation_id in idle:
            del self._sent[conversation_id]
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
