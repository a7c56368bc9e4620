"""Admissions figures for the console's reports: per day or per week, in the clinic's time zone.

Counts come from two databases: visitor messages, their intents and the staff replies from Rasa's
tracker store (its `events` table, read by SQL as `rasa_events` does), handoffs, callbacks and
ratings from the app DB. Each count is grouped in the database: the period boundaries (local
midnights, converted to UTC, so a day across a daylight-saving change is 23 or 25 hours long) become
a CASE expression, which SQLite and PostgreSQL evaluate alike. Nothing here reads message text:
the only text column touched is matched, in SQL, for the key a staff reply carries.

What each measure means: docs/console.md, "Reports".
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.domain.safety.patterns_file import INTENTS as CRISIS_INTENTS
from bot.store.db import session_scope
from bot.store.handoffs import UNSTAFFED_REQUEST
from bot.store.models import AuditEntry, CallbackRequest, Handoff, HandoffTransition, MessageRating
from bot.store.rasa_events import EVENTS, UNANSWERED_INTENTS, tracker_store

# Rasa fills the events' intent_name from a message's final parse, after the fallback classifier and
# the crisis override. A staff reply is a bot event whose metadata names the staff member (gateway/rasa_client.py).
STAFF_REPLY_KEY = '"staff_name"'
GROUPINGS = ("day", "week")
MAX_DAYS = 366
TOP_INTENTS = 10
# Conversations per IN (...) list: well under every driver's limit on bound parameters.
ID_CHUNK = 500

# The measures, in the order the page and the CSV show them.
MEASURES = (
    "conversations", "visitor_messages", "unanswered_messages", "unanswered_rate", "crisis_messages",
    "handoffs_requested", "handoffs_unstaffed", "handoffs_waited", "handoffs_taken", "handoffs_expired",
    "first_replies", "first_reply_median_seconds", "first_reply_p90_seconds",
    "callbacks_requested", "callbacks_closed", "thumbs_up", "thumbs_down",
)

# Those counted in the tracker store; the rest come from the app DB.
TRACKER_MEASURES = ("conversations", "visitor_messages", "unanswered_messages", "crisis_messages",
                    "handoffs_waited")

Figures = Dict[str, Optional[float]]


@dataclass(frozen=True)
class Period:
    """Local dates first..last (inclusive), and the UTC instants they span (end exclusive)."""

    first: date
    last: date
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Report:
    first: date
    last: date
    by: str
    time_zone: str
    periods: Tuple[Period, ...]
    rows: Tuple[Figures, ...]
    total: Figures
    # (intent, visitor messages) over the whole range, most asked first.
    top_intents: Tuple[Tuple[str, int], ...]


def percentile(values: Sequence[float], percent: int) -> Optional[float]:
    """The nearest-rank percentile: the smallest value with at least `percent`% of the values at or
    below it (always one of the values; the median of an even count is the lower middle one)."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent {percent} is not in 1..100")
    if not values:
        return None
    ordered = sorted(values)
    # Integer arithmetic: 0.9 * 10 must be rank 9, not a float a hair above it.
    rank = -(-percent * len(ordered) // 100)
    return ordered[rank - 1]


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(timezone.utc)


def periods(first: date, last: date, by: str, zone: ZoneInfo) -> Tuple[Period, ...]:
    """Days, or weeks from Monday to Sunday cut to the range (so the first and last may be shorter)."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    if last < first:
        raise ValueError("the range ends before it starts")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValueError(f"the range is longer than {MAX_DAYS} days")
    found = []
    start = first
    while start <= last:
        end = start if by == "day" else min(last, start + timedelta(days=6 - start.weekday()))
        found.append(Period(start, end, local_midnight(start, zone), local_midnight(end + timedelta(days=1), zone)))
        start = end + timedelta(days=1)
    return tuple(found)


def build_report(app_db_url: str, tracker_db_url: str, first: date, last: date, by: str,
                 time_zone: str) -> Report:
    """Every measure for each period from `first` to `last` (local dates in `time_zone`, both included)."""
    zone = ZoneInfo(time_zone)
    spans = periods(first, last, by, zone)
    columns: Dict[str, List[Optional[float]]] = {}
    total: Figures = {}
    with session_scope(app_db_url) as session:
        app = _app_figures(session, spans)
        opened = _claimed_handoffs(session, spans)
    with tracker_store(tracker_db_url) as engine:
        if engine is None:
            tracker: Dict[str, List[int]] = {name: [0] * len(spans) for name in TRACKER_MEASURES}
            conversations_total, top_intents, replies = 0, [], {}
        else:
            with engine.connect() as connection:
                tracker = _tracker_figures(connection, spans)
                conversations_total = _distinct_conversations(connection, spans)
                top_intents = _top_intents(connection, spans)
                replies = _staff_reply_times(connection, opened)
    for name, counts in {**tracker, **app}.items():
        columns[name] = list(counts)
        total[name] = sum(counts)
    total["conversations"] = conversations_total
    columns["unanswered_rate"] = [_ratio(unanswered, messages) for unanswered, messages
                                  in zip(tracker["unanswered_messages"], tracker["visitor_messages"], strict=True)]
    total["unanswered_rate"] = _ratio(total["unanswered_messages"], total["visitor_messages"])
    waits = _first_reply_seconds(opened, replies, spans)
    every_wait = [seconds for period_waits in waits for seconds in period_waits]
    columns["first_replies"] = [len(period_waits) for period_waits in waits]
    columns["first_reply_median_seconds"] = [percentile(period_waits, 50) for period_waits in waits]
    columns["first_reply_p90_seconds"] = [percentile(period_waits, 90) for period_waits in waits]
    total.update(first_replies=len(every_wait), first_reply_median_seconds=percentile(every_wait, 50),
                 first_reply_p90_seconds=percentile(every_wait, 90))
    rows = tuple({name: columns[name][index] for name in MEASURES} for index in range(len(spans)))
    return Report(first, last, by, time_zone, spans, rows, {name: total[name] for name in MEASURES},
                  tuple(top_intents))


def _ratio(part: Optional[float], whole: Optional[float]) -> Optional[float]:
    return part / whole if part is not None and whole else None


def _bucket(column: Any, spans: Sequence[Period], bound: Any, low: int = 0, high: Optional[int] = None) -> Any:
    """The index of the period a row falls in, as SQL (rows outside the range are filtered out first):
    nested CASEs halving the periods each time, so a year of days costs a row nine comparisons, not 366."""
    high = len(spans) - 1 if high is None else high
    if low == high:
        return sa.literal(low)
    middle = (low + high + 1) // 2
    return sa.case((column < bound(spans[middle].starts_at), _bucket(column, spans, bound, low, middle - 1)),
                   else_=_bucket(column, spans, bound, middle, high))


def _per_period(execute: Any, column: Any, spans: Sequence[Period], bound: Any, conditions: Sequence[Any],
                carried: Sequence[Any], counts: Any) -> List[List[int]]:
    """Per aggregate, one count per period, over the rows whose `column` falls in the range and that meet
    `conditions`. `carried` are the row values the aggregates need; `counts` makes the aggregates from
    the subquery's columns."""
    # Grouped over a subquery: PostgreSQL would not see a CASE repeated in GROUP BY, with its own
    # bound parameters, as the same expression as the one selected.
    inner = (sa.select(_bucket(column, spans, bound).label("bucket"), *carried)
             .where(column >= bound(spans[0].starts_at), column < bound(spans[-1].ends_at), *conditions)
             .subquery())
    aggregates = counts(inner.c)
    found = [[0] * len(spans) for _ in aggregates]
    for bucket, *values in execute(sa.select(inner.c.bucket, *aggregates).group_by(inner.c.bucket)):
        for column_found, value in zip(found, values, strict=True):
            column_found[bucket] = int(value or 0)
    return found


def _grouped(execute: Any, column: Any, spans: Sequence[Period], bound: Any, *conditions: Any) -> List[int]:
    """How many rows fall in each period."""
    return _per_period(execute, column, spans, bound, conditions, (), lambda columns: [sa.func.count()])[0]


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _as_is(moment: datetime) -> datetime:
    return moment


def _flag(condition: Any) -> Any:
    return sa.case((condition, 1), else_=0)


def _tracker_figures(connection: Any, spans: Sequence[Period]) -> Dict[str, List[int]]:
    stamp, intent = EVENTS.c.timestamp, EVENTS.c.intent_name
    # Every visitor-message figure in one pass over the table.
    conversations, messages, unanswered, crisis = _per_period(
        connection.execute, stamp, spans, _epoch, [EVENTS.c.type_name == "user"],
        [EVENTS.c.sender_id, _flag(intent.in_(UNANSWERED_INTENTS)).label("unanswered"),
         _flag(intent.in_(CRISIS_INTENTS)).label("crisis")],
        lambda columns: [sa.func.count(sa.distinct(columns.sender_id)), sa.func.count(),
                         sa.func.sum(columns.unanswered), sa.func.sum(columns.crisis)])
    previous = EVENTS.alias("previous")
    # The event before each pause in its conversation: a session that starts while staff still have
    # the conversation pauses it again (actions/session.py), and that is not a new wait.
    before_pause = (sa.select(previous.c.type_name)
                    .where(previous.c.sender_id == EVENTS.c.sender_id, previous.c.id < EVENTS.c.id)
                    .order_by(previous.c.id.desc()).limit(1).scalar_subquery())
    waited = _grouped(connection.execute, stamp, spans, _epoch, EVENTS.c.type_name == "pause",
                      sa.func.coalesce(before_pause, "") != "session_started")
    return {"conversations": conversations, "visitor_messages": messages, "unanswered_messages": unanswered,
            "crisis_messages": crisis, "handoffs_waited": waited}


def _distinct_conversations(connection: Any, spans: Sequence[Period]) -> int:
    """Conversations over the whole range: one that spans two periods counts once here."""
    return connection.execute(
        sa.select(sa.func.count(sa.distinct(EVENTS.c.sender_id)))
        .where(EVENTS.c.type_name == "user", EVENTS.c.timestamp >= _epoch(spans[0].starts_at),
               EVENTS.c.timestamp < _epoch(spans[-1].ends_at))
    ).scalar_one()


def _top_intents(connection: Any, spans: Sequence[Period]) -> List[Tuple[str, int]]:
    asked = sa.func.count().label("asked")
    rows = connection.execute(
        sa.select(EVENTS.c.intent_name, asked)
        .where(EVENTS.c.type_name == "user", EVENTS.c.intent_name.isnot(None),
               EVENTS.c.timestamp >= _epoch(spans[0].starts_at), EVENTS.c.timestamp < _epoch(spans[-1].ends_at))
        .group_by(EVENTS.c.intent_name).order_by(asked.desc(), EVENTS.c.intent_name).limit(TOP_INTENTS)
    ).all()
    return [(intent, count) for intent, count in rows]


def _app_figures(session: Session, spans: Sequence[Period]) -> Dict[str, List[int]]:
    def moved(to_status: str) -> List[int]:
        return _grouped(session.execute, HandoffTransition.at, spans, _as_is, HandoffTransition.to_status == to_status)

    return {
        "handoffs_requested": _grouped(session.execute, Handoff.created_at, spans, _as_is),
        "handoffs_unstaffed": _grouped(session.execute, AuditEntry.at, spans, _as_is,
                                       AuditEntry.action == UNSTAFFED_REQUEST),
        "handoffs_taken": moved("active"),
        "handoffs_expired": moved("expired"),
        "callbacks_requested": _grouped(session.execute, CallbackRequest.created_at, spans, _as_is),
        "callbacks_closed": _grouped(session.execute, CallbackRequest.closed_at, spans, _as_is,
                                     CallbackRequest.status == "closed"),
        "thumbs_up": _grouped(session.execute, MessageRating.rated_at, spans, _as_is, MessageRating.rating == "up"),
        "thumbs_down": _grouped(session.execute, MessageRating.rated_at, spans, _as_is,
                                MessageRating.rating == "down"),
    }


@dataclass(frozen=True)
class _Claimed:
    conversation_id: str
    opened_at: datetime
    claimed_at: datetime
    closed_at: Optional[datetime]


def _claimed_handoffs(session: Session, spans: Sequence[Period]) -> List[_Claimed]:
    """Handoffs opened in the range that someone claimed: the only ones a staff member can reply in."""
    rows = session.execute(
        sa.select(Handoff.conversation_id, Handoff.created_at, Handoff.claimed_at, Handoff.closed_at)
        .where(Handoff.created_at >= spans[0].starts_at, Handoff.created_at < spans[-1].ends_at,
               Handoff.claimed_at.isnot(None))
    ).all()
    return [_Claimed(*row) for row in rows]


def _staff_reply_times(connection: Any, handoffs: Sequence[_Claimed]) -> Dict[str, List[float]]:
    """Each conversation's staff reply times (epoch seconds, in order), from the claims on."""
    if not handoffs:
        return {}
    conversations = sorted({handoff.conversation_id for handoff in handoffs})
    since = min(handoff.claimed_at for handoff in handoffs).timestamp()
    replies: Dict[str, List[float]] = {}
    for start in range(0, len(conversations), ID_CHUNK):
        rows = connection.execute(
            sa.select(EVENTS.c.sender_id, EVENTS.c.timestamp)
            .where(EVENTS.c.type_name == "bot", EVENTS.c.sender_id.in_(conversations[start:start + ID_CHUNK]),
                   EVENTS.c.timestamp >= since, EVENTS.c.data.contains(STAFF_REPLY_KEY, autoescape=True))
        )
        for sender_id, stamp in rows:
            replies.setdefault(sender_id, []).append(stamp)
    for stamps in replies.values():
        stamps.sort()
    return replies


def _first_reply_seconds(handoffs: Sequence[_Claimed], replies: Dict[str, List[float]],
                         spans: Sequence[Period]) -> List[List[float]]:
    """Per period (of the handoff's opening), seconds from opening to the first staff reply while it was
    claimed. A conversation has one open handoff at a time, so the claim-to-close window names it."""
    waits: List[List[float]] = [[] for _ in spans]
    starts = [span.starts_at for span in spans]
    for handoff in handoffs:
        stamps = replies.get(handoff.conversation_id, [])
        at = bisect.bisect_left(stamps, handoff.claimed_at.timestamp())
        if at == len(stamps) or (handoff.closed_at is not None and stamps[at] > handoff.closed_at.timestamp()):
            continue
        waits[bisect.bisect_right(starts, handoff.opened_at) - 1].append(stamps[at] - handoff.opened_at.timestamp())
    return waits
