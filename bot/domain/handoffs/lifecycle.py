"""The handoff lifecycle: waiting → active (one staff member claims it) → resolved, or
waiting → expired when nobody claims it in time. The states, how long things last, and the errors
a refused move raises; bot/store/handoffs.py makes the moves in the database.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

PRIORITIES = ("urgent", "normal")
STATES = ("waiting", "active", "resolved", "expired")
OPEN_STATES = ("waiting", "active")
# The console sends a heartbeat while open; someone not seen for this long has closed it.
PRESENCE_TIMEOUT = timedelta(minutes=2)
# How long a resolved handoff stays in the queue, for staff to find what just happened.
RECENTLY_RESOLVED = timedelta(hours=12)


class HandoffError(Exception):
    pass


class NotFound(HandoffError, LookupError):
    pass


class InvalidTransition(HandoffError):
    def __init__(self, handoff_id: int, from_status: str, to_status: str, message: Optional[str] = None) -> None:
        self.handoff_id, self.from_status, self.to_status = handoff_id, from_status, to_status
        super().__init__(message or f"handoff {handoff_id} cannot go from {from_status} to {to_status}")


class HandoffConflict(InvalidTransition):
    """Someone else claimed the handoff first."""

    def __init__(self, handoff_id: int, claimed_by: int, claimed_by_name: str) -> None:
        self.claimed_by = claimed_by
        super().__init__(handoff_id, "active", "active",
                         f"handoff {handoff_id} was already claimed by {claimed_by_name}")
