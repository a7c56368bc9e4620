"""Rows for the reports tests: tracker events saved by Rasa's own store (so its columns hold what Rasa
writes), and handoffs, callbacks and ratings in the app DB, at chosen times.

`seed_known_fortnight` is one fixed fortnight whose figures the page, CSV and browser tests check.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_plugins.tracker_store import RecentEventsSQLTrackerStore
from bot.store import CallbackRequest, MessageRating, session_scope
from bot.store.handoffs import claim, expire_waiting, open_handoff, record_unstaffed_request, resolve
from tests.support.app_db import add_staff

CHICAGO = ZoneInfo("America/Chicago")
# In every seeded message and reply: no report may ever show it.
SECRET = "SECRET-visitor-words-7d1f"
FERNET = Fernet(Fernet.generate_key())


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = CHICAGO) -> datetime:
    """A wall-clock time in the clinic's zone, as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(timezone.utc)


def user(at: datetime, intent: str) -> List[Any]:
    return [UserUttered(f"{SECRET} about {intent}", {"name": intent, "confidence": 0.9}, timestamp=at.timestamp())]


def bot(at: datetime, staff: Optional[str] = None) -> List[Any]:
    metadata = {"staff_name": staff} if staff else {}
    return [BotUttered(f"{SECRET} answer", metadata=metadata, timestamp=at.timestamp())]


def pause(at: datetime) -> List[Any]:
    """An action telling the visitor to wait, as actions/handoff.py does."""
    stamp = at.timestamp()
    return [ActionExecuted("action_request_human", timestamp=stamp), ConversationPaused(timestamp=stamp + 0.001)]


def session_start(at: datetime, still_paused: bool = False) -> List[Any]:
    """A new session; with still_paused, the one actions/session.py starts while staff have the conversation."""
    stamp = at.timestamp()
    events = [ActionExecuted("action_session_start", timestamp=stamp), SessionStarted(timestamp=stamp + 0.001)]
    if still_paused:
        events.append(ConversationPaused(timestamp=stamp + 0.002))
    return events + [ActionExecuted("action_listen", timestamp=stamp + 0.003)]


def save_conversation(url: str, sender: str, *parts: Sequence[Any]) -> None:
    """Saved through Rasa's store in a thread of its own: a test's Playwright may hold this thread's loop."""
    tracker = DialogueStateTracker(sender, [])
    for part in parts:
        for event in part:
            tracker.update(event)
    failure: List[BaseException] = []

    def save() -> None:
        store = RecentEventsSQLTrackerStore(domain=None, host=url)
        try:
            asyncio.run(store.save(tracker))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
        finally:
            store.engine.dispose()

    worker = threading.Thread(target=save)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive() or failure:
        raise RuntimeError(f"saving {sender} failed: {failure or 'timed out'}")


def add_callback(session, at: datetime, closed_at: Optional[datetime] = None, staff_id: Optional[int] = None):
    token = FERNET.encrypt(b"x").decode()
    callback = CallbackRequest(conversation_id=f"callback-{at.timestamp()}", first_name_enc=token, contact_enc=token,
                               best_time_enc=token, consented_at=at, created_at=at, redacted_at=at,
                               status="closed" if closed_at else "open", closed_at=closed_at,
                               closed_by=staff_id if closed_at else None)
    session.add(callback)


def add_rating(session, at: datetime, rating: str, client_id: str) -> None:
    session.add(MessageRating(conversation_id="rated", client_id=client_id, rating=rating, rated_at=at))


@dataclass(frozen=True)
class Known:
    """The fortnight seed_known_fortnight writes, and the figures a report on it must show."""

    first: date
    last: date
    # By day: (local date, figures) for the days with anything; every other day is all zeros.
    by_day: Dict[date, Dict[str, Optional[float]]]
    total: Dict[str, Optional[float]]
    top_intents: List[tuple]


def seed_known_fortnight(app_db_url: str, tracker_db_url: str, first: date) -> Known:
    """Two weeks from `first` (a Monday): three conversations, two handoffs (one taken, one expired),
    two requests for a person that found nobody, callbacks and ratings. Times are Chicago wall-clock times."""
    day1, day2, day9 = first, first + timedelta(days=1), first + timedelta(days=8)
    # Day 1: a visitor asks two questions, one unanswerable, then asks for a person at 10:00.
    opened_at = local(day1, 10)
    save_conversation(tracker_db_url, "known-a",
                      user(local(day1, 9, 50), "ask_iop"), bot(local(day1, 9, 50)),
                      user(local(day1, 9, 55), "nlu_fallback"), bot(local(day1, 9, 55)),
                      user(local(day1, 9, 59), "request_human"), pause(opened_at),
                      # Claimed at 10:02, first reply at 10:05 (300 s after opening), a second at 10:06.
                      bot(local(day1, 10, 5), staff="Rosa"), bot(local(day1, 10, 6), staff="Rosa"))
    # Day 1, 23:30 Chicago (the next day in UTC): a crisis message; its urgent handoff expires unclaimed
    # at 23:45, still day 1 in Chicago.
    late = local(day1, 23, 30)
    save_conversation(tracker_db_url, "known-b", user(late, "crisis_self_harm"), bot(late))
    # Day 9: one conversation with an off-topic message.
    save_conversation(tracker_db_url, "known-c", user(local(day9, 14), "out_of_scope"), bot(local(day9, 14)),
                      user(local(day9, 14, 1), "ask_iop"), bot(local(day9, 14, 1)))
    with session_scope(app_db_url) as session:
        staff_id = add_staff(session, email=f"seed-{first.isoformat()}@example.org", name="Rosa").id
        handoff = open_handoff(session, "known-a", "visitor asked for a person", "normal", "request_human",
                               now=opened_at)
        claim(session, handoff.id, staff_id, now=local(day1, 10, 2))
        resolve(session, handoff.id, staff_id, now=local(day1, 10, 30))
        open_handoff(session, "known-b", "crisis_self_harm", "urgent", "crisis_self_harm", now=late)
        expire_waiting(session, timedelta(minutes=10), now=late + timedelta(minutes=15))
        # Asked for a person when nobody was there: at 23:50 Chicago (the next day in UTC), and on day 9.
        record_unstaffed_request(session, "known-b", "visitor asked for a person", now=late + timedelta(minutes=20))
        record_unstaffed_request(session, "known-c", "visitor asked for a person", now=local(day9, 14, 5))
        add_callback(session, local(day2, 8), closed_at=local(day9, 9), staff_id=staff_id)
        add_callback(session, local(day9, 11))
        add_rating(session, local(day1, 9, 51), "up", "m1")
        add_rating(session, local(day9, 14, 2), "down", "m2")
        add_rating(session, local(day9, 14, 3), "up", "m3")
    zero = {"conversations": 0, "visitor_messages": 0, "unanswered_messages": 0, "unanswered_rate": None,
            "crisis_messages": 0, "handoffs_requested": 0, "handoffs_unstaffed": 0, "handoffs_waited": 0,
            "handoffs_taken": 0, "handoffs_expired": 0, "first_replies": 0, "first_reply_median_seconds": None,
            "first_reply_p90_seconds": None, "callbacks_requested": 0, "callbacks_closed": 0,
            "thumbs_up": 0, "thumbs_down": 0}
    by_day = {
        day1: {**zero, "conversations": 2, "visitor_messages": 4, "unanswered_messages": 1, "unanswered_rate": 0.25,
               "crisis_messages": 1, "handoffs_requested": 2, "handoffs_unstaffed": 1, "handoffs_waited": 1,
               "handoffs_taken": 1, "handoffs_expired": 1, "first_replies": 1, "first_reply_median_seconds": 300.0,
               "first_reply_p90_seconds": 300.0, "thumbs_up": 1},
        day2: {**zero, "callbacks_requested": 1},
        day9: {**zero, "conversations": 1, "visitor_messages": 2, "unanswered_messages": 1, "unanswered_rate": 0.5,
               "handoffs_unstaffed": 1, "callbacks_requested": 1, "callbacks_closed": 1, "thumbs_up": 1,
               "thumbs_down": 1},
    }
    total = {**zero, "conversations": 3, "visitor_messages": 6, "unanswered_messages": 2, "unanswered_rate": 2 / 6,
             "crisis_messages": 1, "handoffs_requested": 2, "handoffs_unstaffed": 2, "handoffs_waited": 1,
             "handoffs_taken": 1, "handoffs_expired": 1, "first_replies": 1, "first_reply_median_seconds": 300.0,
             "first_reply_p90_seconds": 300.0, "callbacks_requested": 2, "callbacks_closed": 1,
             "thumbs_up": 2, "thumbs_down": 1}
    top = [("ask_iop", 2), ("crisis_self_harm", 1), ("nlu_fallback", 1), ("out_of_scope", 1), ("request_human", 1)]
    return Known(first, first + timedelta(days=13), by_day, total, top)
