"""Rasa's SQL tracker store, with a bounded working set so a long conversation stays fast.

Stock Rasa hands every event of the session to the policies and sends all of
them to the action server on each turn, so replies slow down as a
conversation grows (about 3x by message 150 here). This store still writes
every event (the transcript is complete, and `retrieve_full_tracker`, used by
Rasa's HTTP API, returns all of them), but the tracker used to answer a
message is rebuilt from all events and then keeps only the most recent ones.
Slots, pause state and the latest message come from the full replay, so
nothing about the conversation's state is lost; policies look back only a
few turns anyway.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Optional, Text

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

# Far more than the policies' max_history and than one turn can add (about 10 events).
RECENT_EVENTS = 100


class RecentEventsSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, recent_events: int = RECENT_EVENTS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recent_events = recent_events

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
            events = [json.loads(row.data) for row in rows]
        if not self.domain or not events:
            return None
        return DialogueStateTracker.from_dict(
            sender_id, events, self.domain.slots, max_event_history=self.recent_events
        )

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """Events of `tracker` newer than the newest stored one.

        The stock version slices by the stored count, which breaks once the
        tracker holds only recent events; timestamps order events the same way
        Rasa's own session query does.
        """
        newest_stored = (
            session.query(self.SQLEvent.timestamp)
            .filter(self.SQLEvent.sender_id == tracker.sender_id)
            .order_by(self.SQLEvent.id.desc())
            .limit(1)
            .scalar()
        )
        if newest_stored is None:
            return iter(list(tracker.events))
        return iter([event for event in tracker.events if event.timestamp > newest_stored])
