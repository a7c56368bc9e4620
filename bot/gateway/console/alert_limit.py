"""How often the console may sound an alert: once per handoff and priority, and at most a few a
minute in all, so a flood of crisis messages (from one client or many) cannot drown the page in
alarms. A handoff whose alert is held back still appears in the queue, urgent first."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Tuple

from bot.gateway.visitor.limits import RateLimit

# A handoff alerts again at the same priority only after this long (it may have been forgotten).
REPEAT_SECONDS = 600.0
REMEMBERED = 10_000


class AlertLimit:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rate = RateLimit(per_minute, clock=clock)
        self._alerted: "OrderedDict[Tuple[int, str], float]" = OrderedDict()

    def allow(self, handoff_id: int, priority: str) -> bool:
        """Should this handoff's alert sound now? (Counts it if so.)"""
        now = self._clock()
        key = (handoff_id, priority)
        last = self._alerted.get(key)
        if last is not None and now - last < REPEAT_SECONDS:
            return False
        if self._rate.retry_after("all") is not None:
            return False
        self._alerted[key] = now
        self._alerted.move_to_end(key)
        while len(self._alerted) > REMEMBERED:
            self._alerted.popitem(last=False)
        return True
