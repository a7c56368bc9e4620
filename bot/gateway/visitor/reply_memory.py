"""Recent answers, so a visitor message re-sent after a reconnect is answered once (docs/chat-protocol.md)."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Tuple

# Answers kept for messages re-sent after a reconnect: at most this many, for at most this long.
REMEMBERED_REPLIES = 1_000
REMEMBERED_SECONDS = 5 * 60


class ReplyMemory:
    """Recent answers by (conversation, client_id), so a message re-sent after a reconnect is answered
    from here instead of going to Rasa twice. Bounded in count and in age: a gateway up for months
    keeps the same few megabytes, and a widget re-sends within minutes of losing its connection."""

    def __init__(self, max_replies: int = REMEMBERED_REPLIES, max_age: float = REMEMBERED_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_replies = max_replies
        self.max_age = max_age
        self._clock = clock
        # Oldest first: (conversation, client_id) -> (when stored, answer frame as JSON). Kept as text:
        # a third of the memory of the frame's dicts, which a full memory of replies would cost.
        self._replies: "OrderedDict[Tuple[str, str], Tuple[float, str]]" = OrderedDict()

    def get(self, conversation_id: str, client_id: str) -> Optional[Dict[str, Any]]:
        self._forget_old()
        stored = self._replies.get((conversation_id, client_id))
        return json.loads(stored[1]) if stored is not None else None

    def put(self, conversation_id: str, client_id: str, frame: Dict[str, Any]) -> None:
        key = (conversation_id, client_id)
        self._replies.pop(key, None)
        self._replies[key] = (self._clock(), json.dumps(frame))
        while len(self._replies) > self.max_replies:
            self._replies.popitem(last=False)
        self._forget_old()

    def __len__(self) -> int:
        return len(self._replies)

    def _forget_old(self) -> None:
        oldest_kept = self._clock() - self.max_age
        while self._replies and next(iter(self._replies.values()))[0] < oldest_kept:
            self._replies.popitem(last=False)
