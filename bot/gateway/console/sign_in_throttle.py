"""Per-client sign-in throttle: a client address that keeps failing must wait, longer each time.

It complements the per-account lockout (which a guesser spreading over many emails never
trips) and keeps one process's memory bounded however many addresses try.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Callable, Deque, Optional

WINDOW_SECONDS = 15 * 60
# The first wait once a client reaches its limit; each further failure doubles it, up to the window.
FIRST_WAIT_SECONDS = 30.0
# Addresses remembered at most; the least recently failing are forgotten first.
MAX_CLIENTS = 10_000


class SignInThrottle:
    def __init__(self, failures_allowed: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures_allowed = failures_allowed
        self._clock = clock
        self._failures: "OrderedDict[str, Deque[float]]" = OrderedDict()

    def _recent(self, client: str) -> Deque[float]:
        failures = self._failures.get(client, deque())
        cutoff = self._clock() - WINDOW_SECONDS
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures

    def wait_seconds(self, client: str) -> Optional[float]:
        """How long this client must wait before its next sign-in attempt, or None to go ahead."""
        failures = self._recent(client)
        excess = len(failures) - self.failures_allowed
        if excess < 0:
            return None
        wait = min(FIRST_WAIT_SECONDS * 2 ** excess, WINDOW_SECONDS)
        remaining = failures[-1] + wait - self._clock()
        return remaining if remaining > 0 else None

    def failed(self, client: str) -> None:
        failures = self._recent(client)
        failures.append(self._clock())
        self._failures[client] = failures
        self._failures.move_to_end(client)
        while len(self._failures) > MAX_CLIENTS:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
