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

# About four turns: more than the policies look back (max_history 3) and than one turn adds (under 15).
RECENT_EVENTS = 24
# Event types whose latest occurrence still matters after it leaves the window.
STATE_EVENT_GROUPS = (("pause", "resume"), ("active_loop",))
STATE_EVENT_TYPES = ("slot",) + tuple(name for group in STATE_EVENT_GROUPS for name in group)
# Rasa indexes only sender_id; every lookup below is "the latest event of this
# type (and slot) in this conversation", which this index answers with a seek
# instead of a scan of the whole conversation.
STATE_INDEX = "ix_events_sender_type_name_id"
# Made once: an Index joins its table's metadata, so one made per store would be created again by
# every later store's create_all, and on a new PostgreSQL database the duplicate undoes the table.
_EVENT = SQLTrackerStore.SQLEvent
_STATE_INDEX = sa.Index(STATE_INDEX, _EVENT.sender_id, _EVENT.type_name, _EVENT.action_name, _EVENT.id)


class RecentEventsSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, recent_events: int = RECENT_EVENTS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recent_events = recent_events
        # A database made before the index existed gets it now; a new one got it with the table.
        _STATE_INDEX.create(self.engine, checkfirst=True)

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
        """The older events that still shape the state, in their original order (two queries)."""
        event = self.SQLEvent
        older = (event.sender_id == sender_id, event.id < first_recent_id)
        # Nothing before the session start or a later restart counts.
        floor = (
            session.query(sa.func.max(event.id))
            .filter(event.sender_id == sender_id, event.id <= first_recent_id,
                    event.type_name.in_(("session_started", "restart")))
            .scalar()
        ) or 0
        # One id per state: each slot (Rasa stores a slot event's name in
        # `action_name`), pause/resume together, and the active loop.
        state = sa.case((event.type_name.in_(STATE_EVENT_GROUPS[0]), "pause"), else_=event.type_name)
        latest_ids = (
            session.query(sa.func.max(event.id))
            .filter(*older, event.id >= floor, event.type_name.in_(STATE_EVENT_TYPES))
            .group_by(state, sa.case((event.type_name == "slot", event.action_name), else_=""))
        )
        return session.query(event).filter(event.id.in_(latest_ids.scalar_subquery())).order_by(event.id).all()

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
