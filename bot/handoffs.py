"""The handoff lifecycle: waiting → active (one staff member claims it) → resolved, or
waiting → expired when nobody claims it in time.

Plain functions over a Session; the caller commits (`bot.store.session_scope`). Every change
records a HandoffTransition and an AuditEntry saying who and when. Each state change is one
conditional UPDATE (`... WHERE id = :id AND status = :expected`), so when two staff members,
two gateways or a claim and the expiry sweep act at once, exactly one of them wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import FrozenSet, List, NoReturn, Optional, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.store.models import (
    OPEN_HANDOFF_STATES,
    PREVIEW_CHARS,
    PRIORITIES,
    AuditEntry,
    Handoff,
    HandoffTransition,
    StaffMember,
    utcnow,
)

# The console sends a heartbeat while open; someone not seen for this long has closed it.
PRESENCE_TIMEOUT = timedelta(minutes=2)
# How long a resolved handoff stays in the queue, for staff to find what just happened.
RECENTLY_RESOLVED = timedelta(hours=12)

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HOURS_WINDOW = re.compile(
    r"^(?P<first>[a-z]+)(?:\s*-\s*(?P<last>[a-z]+))?\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$",
    re.IGNORECASE,
)
# Staff hours: weekdays (0 = Monday), then the start and end minute of the day, local time.
Window = Tuple[FrozenSet[int], int, int]
# Each dialect's INSERT ... ON CONFLICT DO NOTHING; the settings allow only these two databases.
INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


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

    def __init__(self, handoff_id: int, claimed_by: StaffMember) -> None:
        self.claimed_by = claimed_by.id
        super().__init__(handoff_id, "active", "active",
                         f"handoff {handoff_id} was already claimed by {claimed_by.display_name}")


def open_handoff(session: Session, conversation_id: str, reason: str, priority: str,
                 last_intent: Optional[str], *, now: Optional[datetime] = None) -> Handoff:
    """A new waiting handoff, or the conversation's open (waiting or active) one if it has one."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    existing = _open_handoff_of(session, conversation_id)
    if existing is not None:
        return existing
    now = now or utcnow()
    # The partial unique index allows one open handoff per conversation; a concurrent request that
    # got there first makes this insert a no-op, and both requests return the same handoff.
    insert = INSERTS[session.get_bind().dialect.name](Handoff).values(
        conversation_id=conversation_id, reason=reason, priority=priority, last_intent=last_intent,
        status="waiting", created_at=now,
    ).on_conflict_do_nothing(index_elements=["conversation_id"],
                             index_where=Handoff.status.in_(OPEN_HANDOFF_STATES))
    inserted = session.execute(insert).rowcount == 1
    handoff = _open_handoff_of(session, conversation_id)
    if handoff is None:
        # Only a handoff closed between the insert and this read gets here; that is a bug, not a race to hide.
        raise HandoffError(f"conversation {conversation_id}: the handoff just opened is not open")
    if inserted:
        _record(session, handoff, None, None, now, "handoff.open", f"reason={reason} priority={priority}")
    return handoff


def raise_to_urgent(session: Session, conversation_id: str, reason: str, last_intent: Optional[str], *,
                    now: Optional[datetime] = None) -> Tuple[int, str]:
    """A crisis the gateway answered itself: the conversation's open handoff becomes urgent, or an urgent
    one is opened. Returns the handoff id and "opened", "escalated" or "unchanged" (already urgent)."""
    now = now or utcnow()
    existing = _open_handoff_of(session, conversation_id)
    if existing is None:
        return open_handoff(session, conversation_id, reason, "urgent", last_intent, now=now).id, "opened"
    changed = session.execute(
        update(Handoff).where(Handoff.id == existing.id, Handoff.priority != "urgent")
        .values(priority="urgent").execution_options(synchronize_session=False)
    ).rowcount == 1
    if not changed:
        return existing.id, "unchanged"
    session.add(AuditEntry(staff_id=None, action="handoff.escalate", conversation_id=conversation_id,
                           detail=f"handoff {existing.id}: priority normal -> urgent ({reason})", at=now))
    return existing.id, "escalated"


def open_handoff_id(session: Session, conversation_id: str) -> Optional[int]:
    """The id of the conversation's waiting or active handoff, if it has one."""
    handoff = _open_handoff_of(session, conversation_id)
    return handoff.id if handoff is not None else None


def claim(session: Session, handoff_id: int, staff_id: int, *, now: Optional[datetime] = None) -> Handoff:
    """waiting → active, assigned to staff_id. HandoffConflict if someone else claimed it first."""
    if session.get(StaffMember, staff_id) is None:
        raise NotFound(f"no staff member {staff_id}")
    now = now or utcnow()
    handoff = _move(session, handoff_id, "waiting", "active", staff_id, now, "handoff.claim",
                    assigned_to=staff_id, claimed_at=now)
    return handoff or _refuse(session, handoff_id, "active")


def resolve(session: Session, handoff_id: int, staff_id: int, *, now: Optional[datetime] = None) -> Handoff:
    """active → resolved: the bot takes the conversation back."""
    if session.get(StaffMember, staff_id) is None:
        raise NotFound(f"no staff member {staff_id}")
    now = now or utcnow()
    handoff = _move(session, handoff_id, "active", "resolved", staff_id, now, "handoff.resolve", closed_at=now)
    return handoff or _refuse(session, handoff_id, "resolved")


def expire_waiting(session: Session, older_than: timedelta, now: Optional[datetime] = None) -> List[Handoff]:
    """waiting → expired for every handoff waiting longer than older_than; returns those expired."""
    now = now or utcnow()
    candidates = session.execute(
        select(Handoff.id).where(Handoff.status == "waiting", Handoff.created_at <= now - older_than)
        .order_by(Handoff.created_at, Handoff.id)
    ).scalars().all()
    expired = (_move(session, handoff_id, "waiting", "expired", None, now, "handoff.expire", closed_at=now)
               for handoff_id in candidates)
    # A handoff claimed since the select is no longer waiting, so its _move is None: the claim stands.
    return [handoff for handoff in expired if handoff is not None]


def queue(session: Session, *, now: Optional[datetime] = None,
          resolved_within: timedelta = RECENTLY_RESOLVED) -> List[Handoff]:
    """The console's queue: waiting (urgent first, then oldest first), active, then recently resolved."""
    now = now or utcnow()
    waiting = select(Handoff).where(Handoff.status == "waiting").order_by(
        case((Handoff.priority == "urgent", 0), else_=1), Handoff.created_at, Handoff.id)
    active = select(Handoff).where(Handoff.status == "active").order_by(Handoff.claimed_at, Handoff.id)
    resolved = select(Handoff).where(
        Handoff.status == "resolved", Handoff.closed_at >= now - resolved_within
    ).order_by(Handoff.closed_at.desc(), Handoff.id.desc())
    return [handoff for statement in (waiting, active, resolved) for handoff in session.execute(statement).scalars()]


def note_visitor_message(session: Session, conversation_id: str, text: str) -> bool:
    """Keep a short preview of the visitor's latest message on the open handoff, for the queue.

    Not audited: the audit log must not hold message text. False if no handoff is open.
    """
    preview = " ".join(text.split())
    if len(preview) > PREVIEW_CHARS:
        preview = preview[:PREVIEW_CHARS - 1] + "…"
    result = session.execute(
        update(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_HANDOFF_STATES))
        .values(last_visitor_message=preview).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


@dataclass(frozen=True)
class StaffHours:
    """When staff answer chats: windows in the clinic's time zone; no windows means always."""

    windows: Tuple[Window, ...]
    timezone: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings) -> "StaffHours":
        return cls(parse_staff_hours(settings.staff_hours), ZoneInfo(settings.staff_timezone))

    def contains(self, moment: datetime) -> bool:
        if not self.windows:
            return True
        local = moment.astimezone(self.timezone)
        minute = local.hour * 60 + local.minute
        return any(local.weekday() in days and start <= minute < end for days, start, end in self.windows)


def staff_available(session: Session, now: datetime, hours: StaffHours,
                    seen_within: timedelta = PRESENCE_TIMEOUT) -> bool:
    """Within staff hours and someone online whose console was seen recently: worth waiting for."""
    if not hours.contains(now):
        return False
    someone = session.execute(
        select(StaffMember.id).where(StaffMember.presence == "online", StaffMember.last_seen >= now - seen_within,
                                     StaffMember.disabled_at.is_(None))
        .limit(1)
    ).first()
    return someone is not None


def parse_staff_hours(text: str) -> Tuple[Window, ...]:
    """'Mon-Fri 08:00-18:00, Sat 09:00-13:00' → windows; empty → () (always). ValueError says what is wrong."""
    windows = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        match = HOURS_WINDOW.match(part)
        if not match:
            raise ValueError(f"{part!r} is not like 'Mon-Fri 08:00-18:00' (days, then 24-hour start-end)")
        first = _day(match["first"])
        last = _day(match["last"]) if match["last"] else first
        # Ranges may wrap around the week, as in Sat-Mon.
        days = frozenset((first + offset) % 7 for offset in range((last - first) % 7 + 1))
        start, end = _minute(match["start"], part), _minute(match["end"], part)
        if end <= start:
            raise ValueError(f"in {part!r} the end must be after the start (write overnight hours as two days)")
        windows.append((days, start, end))
    return tuple(windows)


def _day(name: str) -> int:
    for index, day in enumerate(DAYS):
        if name.lower() in (day, day[:3]):
            return index
    raise ValueError(f"{name!r} is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun")


def _minute(clock: str, part: str) -> int:
    hour, minute = (int(number) for number in clock.split(":"))
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        raise ValueError(f"in {part!r} {clock} is not a time between 00:00 and 24:00")
    return hour * 60 + minute


def _open_handoff_of(session: Session, conversation_id: str) -> Optional[Handoff]:
    return session.execute(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_HANDOFF_STATES))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _move(session: Session, handoff_id: int, from_status: str, to_status: str, actor: Optional[int],
          now: datetime, action: str, **values) -> Optional[Handoff]:
    """Change the status if it still is from_status, and record it; None if it is not."""
    result = session.execute(
        update(Handoff).where(Handoff.id == handoff_id, Handoff.status == from_status)
        .values(status=to_status, **values).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    handoff = session.get(Handoff, handoff_id, populate_existing=True)
    _record(session, handoff, from_status, actor, now, action, f"{from_status} -> {to_status}")
    return handoff


def _refuse(session: Session, handoff_id: int, to_status: str) -> NoReturn:
    """Explain why a move did not happen, from the handoff's state as it is now."""
    handoff = session.get(Handoff, handoff_id, populate_existing=True)
    if handoff is None:
        raise NotFound(f"no handoff {handoff_id}")
    if handoff.status == "active" and to_status == "active":
        raise HandoffConflict(handoff_id, session.get(StaffMember, handoff.assigned_to))
    raise InvalidTransition(handoff_id, handoff.status, to_status)


def _record(session: Session, handoff: Handoff, from_status: Optional[str], actor: Optional[int],
            now: datetime, action: str, detail: str) -> None:
    session.add(HandoffTransition(handoff_id=handoff.id, from_status=from_status, to_status=handoff.status,
                                  actor=actor, at=now))
    session.add(AuditEntry(staff_id=actor, action=action, conversation_id=handoff.conversation_id,
                           detail=f"handoff {handoff.id}: {detail}", at=now))
