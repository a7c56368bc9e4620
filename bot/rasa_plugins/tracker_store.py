"""Rasa's SQL tracker store, loading a bounded window so a long conversation stays fast.

Stock Rasa reads and replays every event of the session on each message, and
sends all of them to the action server, so replies slow down as a
conversation grows (about 3x by message 150 here). This store still writes
every event (the transcript is complete, and `retrieve_full_tracker`, which
Rasa's HTTP API uses, returns all of them). To answer a message it loads the
recent events instead, starting at a point where replaying them gives Rasa's
policies the states they would get from the whole session (docs/tracker-store.md):

- the window starts at an `action_listen`, never while a form is active, and
  holds VISIBLE_TURNS earlier turns that MemoizationPolicy sees;
- before it come the older events that still decide the state (the latest
  value of each slot, the latest slot reset, the latest pause or resume), and
  nothing cuts them off, so Rasa's replay from an empty tracker restores them;
- a session too short for a window, or one with an undone turn (`/back`,
  reverted actions), is loaded exactly as Rasa loads it.
"""

from __future__ import annotations

import bisect
import functools
import json
from typing import Any, Iterator, List, Optional, Text, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_plugins.rasa_server import RasaInternalChanged, require_internal

THIS_FILE = "bot/rasa_plugins/tracker_store.py"
# MemoizationPolicy (max_history 3) skips turns that only rules predicted (`hide_rule_turn`),
# so it can look back past any number of them; each turn it does see adds at least one state,
# and its oldest state also depends on the state before it. RulePolicy looks back at most into
# the turn before the new message (Rasa allows one user message per rule).
VISIBLE_TURNS = 3
SESSION_BOUNDARIES = ("session_started", "restart")
# Undoing events can reach back past any window.
REVERTS = ("rewind", "undo")
STATE_EVENT_TYPES = ("slot", "reset_slots", "pause", "resume")
PAGE_SIZE = 64
# Rasa indexes only sender_id; every lookup below is "the latest event of this
# type (and slot) in this conversation", which this index answers with a seek
# instead of a scan of the whole conversation.
STATE_INDEX = "ix_events_sender_type_name_id"
# The console's reports count events of a type over a time range (bot/store/analytics.py): without
# this index each report reads the whole table.
TIME_INDEX = "ix_events_type_name_timestamp"
# intent_name: the review queue and the reports read the predicted intent from it.
EVENT_COLUMNS = ("id", "sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")


def check_rasa_internals() -> None:
    require_internal(SQLTrackerStore, "SQLEvent", THIS_FILE, attributes=EVENT_COLUMNS)
    require_internal(SQLTrackerStore, "session_scope", THIS_FILE, ("self",))
    require_internal(SQLTrackerStore, "_event_query", THIS_FILE,
                     ("self", "session", "sender_id", "fetch_events_from_all_sessions"))
    require_internal(SQLTrackerStore, "_additional_events", THIS_FILE, ("self", "session", "tracker"))
    require_internal(SQLTrackerStore, "retrieve", THIS_FILE, ("self", "sender_id"))


@functools.lru_cache(maxsize=None)
def _indexes() -> Tuple[sa.Index, ...]:
    # Made once: an Index joins its table's metadata, so one made per store would be created again by
    # every later store's create_all, and on a new PostgreSQL database the duplicate undoes the table.
    event = SQLTrackerStore.SQLEvent
    return (sa.Index(STATE_INDEX, event.sender_id, event.type_name, event.action_name, event.id),
            sa.Index(TIME_INDEX, event.type_name, event.timestamp))


class RecentEventsSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check_rasa_internals()
        try:
            super().__init__(*args, **kwargs)
            # A database made before an index existed gets it now; a new one got them with the table.
            for index in _indexes():
                index.create(self.engine, checkfirst=True)
        except AttributeError as error:
            raise RasaInternalChanged(f"Creating the tracker store failed ({error}); "
                                      f"update {THIS_FILE} for this Rasa version.") from error

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            rows = self._window_rows(session, sender_id)
            if rows is None:
                rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
            events = [json.loads(row.data) for row in rows]
        if not self.domain or not events:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    def _window_rows(self, session: Any, sender_id: Text) -> Optional[List[Any]]:
        """The state events and the window after them, or None to load the session as Rasa does."""
        loop_changes = self._loop_changes(session, sender_id)
        loop_change_ids = [change_id for change_id, _ in loop_changes]
        newest_first: List[Any] = []
        visible_turns = 0
        # Walking back, the action that came right after the row being looked at.
        next_action = None
        for row in self._newest_first(session, sender_id):
            if row.type_name in SESSION_BOUNDARIES + REVERTS:
                return None
            newest_first.append(row)
            # The latest form change before this row decides whether a form is active there.
            position = bisect.bisect_left(loop_change_ids, row.id)
            in_form = position > 0 and loop_changes[position - 1][1] is not None
            if row.type_name == "action":
                if row.action_name == ACTION_LISTEN_NAME and visible_turns >= VISIBLE_TURNS and not in_form:
                    state_rows = self._state_rows_before(session, sender_id, row.id)
                    return None if state_rows is None else state_rows + newest_first[::-1]
                next_action = row
            elif row.type_name == "user":
                # Turns inside a form are not counted: Rasa's replay folds them into the form's first one.
                if next_action is not None and not in_form and not json.loads(next_action.data).get("hide_rule_turn"):
                    visible_turns += 1
                next_action = None
        return None

    def _newest_first(self, session: Any, sender_id: Text) -> Iterator[Any]:
        event = self.SQLEvent
        before = None
        while True:
            query = session.query(event).filter(event.sender_id == sender_id)
            if before is not None:
                query = query.filter(event.id < before)
            page = query.order_by(event.id.desc()).limit(PAGE_SIZE).all()
            yield from page
            if len(page) < PAGE_SIZE:
                return
            before = page[-1].id

    def _session_floor(self, session: Any, sender_id: Text) -> Any:
        """The id of the latest session start or restart (0 if none): nothing before it counts."""
        event = self.SQLEvent
        latest = (
            session.query(sa.func.max(event.id))
            .filter(event.sender_id == sender_id, event.type_name.in_(SESSION_BOUNDARIES))
            .scalar_subquery()
        )
        return sa.func.coalesce(latest, 0)

    def _loop_changes(self, session: Any, sender_id: Text) -> List[Any]:
        """(id, form name or None) of each form activation and deactivation in this session."""
        event = self.SQLEvent
        # Rasa stores an active_loop event's form name in `action_name`.
        return (
            session.query(event.id, event.action_name)
            .filter(event.sender_id == sender_id, event.type_name == "active_loop",
                    event.id > self._session_floor(session, sender_id))
            .order_by(event.id)
            .all()
        )

    def _state_rows_before(self, session: Any, sender_id: Text, start_id: int) -> Optional[List[Any]]:
        """The older events that still shape the state, in their original order; None after a revert."""
        event = self.SQLEvent
        # One id per state: each slot (Rasa stores a slot event's name in `action_name`),
        # pause/resume together, the latest slot reset and the latest revert of each kind.
        state = sa.case((event.type_name.in_(("pause", "resume")), "pause"), else_=event.type_name)
        latest_ids = (
            session.query(sa.func.max(event.id))
            .filter(event.sender_id == sender_id, event.id < start_id,
                    event.id > self._session_floor(session, sender_id),
                    event.type_name.in_(STATE_EVENT_TYPES + REVERTS))
            .group_by(state, sa.case((event.type_name == "slot", event.action_name), else_=""))
        )
        rows = session.query(event).filter(event.id.in_(latest_ids.scalar_subquery())).order_by(event.id).all()
        if any(row.type_name in REVERTS for row in rows):
            return None
        return rows

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
