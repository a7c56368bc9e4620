"""Rasa's SQL tracker store, with a bounded working set so a long conversation stays fast.

Stock Rasa reads and replays every event of the session on each message, and
sends all of them to the action server, so replies slow down as a
conversation grows (about 3x by message 150 here). This store still writes
every event (the transcript is complete, and `retrieve_full_tracker`, which
Rasa's HTTP API uses, returns all of them). To answer a message, though, it
loads only the most recent events plus the few older events that still
decide the conversation's state: the latest value of each slot, the latest
pause or resume, and the latest form (active loop) change.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, List, Optional, Text

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

# Several turns: more than the policies look back (max_history 3) and than one turn adds (under 15).
RECENT_EVENTS = 40
# Event types whose latest occurrence still matters after it leaves the window.
STATE_EVENT_GROUPS = (("pause", "resume"), ("active_loop",))


class RecentEventsSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, recent_events: int = RECENT_EVENTS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recent_events = recent_events

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            rows = self._recent_rows(session, sender_id)
            if rows and len(rows) == self.recent_events:
                rows = self._state_rows_before(session, sender_id, rows[0].id) + rows
            events = [json.loads(row.data) for row in rows]
        if not self.domain or not events:
            return None
        return DialogueStateTracker.from_dict(
            sender_id, events, self.domain.slots, max_event_history=self.recent_events
        )

    def _recent_rows(self, session: Any, sender_id: Text) -> List[Any]:
        query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
        newest_first = query.order_by(None).order_by(self.SQLEvent.id.desc()).limit(self.recent_events).all()
        return list(reversed(newest_first))

    def _state_rows_before(self, session: Any, sender_id: Text, first_recent_id: int) -> List[Any]:
        """The older events that still shape the state, in their original order."""
        event = self.SQLEvent
        older = (
            self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            .order_by(None)
            .filter(event.id < first_recent_id)
        )
        # Nothing before a restart counts.
        last_restart = older.filter(event.type_name == "restart").with_entities(sa.func.max(event.id)).scalar()
        if last_restart is not None:
            older = older.filter(event.id > last_restart)
        # For slot events Rasa stores the slot's name in `action_name`.
        ids = [
            row[0]
            for row in older.filter(event.type_name == "slot")
            .with_entities(sa.func.max(event.id))
            .group_by(event.action_name)
        ]
        for types in STATE_EVENT_GROUPS:
            latest = older.filter(event.type_name.in_(types)).with_entities(sa.func.max(event.id)).scalar()
            if latest is not None:
                ids.append(latest)
        if not ids:
            return []
        return session.query(event).filter(event.id.in_(ids)).order_by(event.id).all()

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
