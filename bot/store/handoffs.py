"""The handoff lifecycle's moves in the app DB (states and errors: bot/domain/handoffs/lifecycle.py).

Plain functions over a Session; the caller commits (`bot.store.session_scope`). Every change
records a HandoffTransition and an AuditEntry saying who and when. Each state change is one
conditional UPDATE (`... WHERE id = :id AND status = :expected`), so when two staff members,
two gateways or a claim and the expiry sweep act at once, exactly one of them wins.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import List, NoReturn, Optional, Tuple

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.domain.handoffs.hours import StaffHours
from bot.domain.handoffs.lifecycle import (
    OPEN_STATES,
    PRESENCE_TIMEOUT,
    PRIORITIES,
    RECENTLY_RESOLVED,
    HandoffConflict,
    HandoffError,
    InvalidTransition,
    NotFound,
)
from bot.store.models import (
    PREVIEW_CHARS,
    AuditEntry,
    Handoff,
    HandoffTransition,
    StaffMember,
    utcnow,
)

# Each dialect's INSERT ... ON CONFLICT DO NOTHING; the settings allow only these two databases.
INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
# The audit action of a request for a person that found nobody (the reports count these).
UNSTAFFED_REQUEST = "handoff.unstaffed"


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
                             index_where=Handoff.status.in_(OPEN_STATES))
    inserted = session.execute(insert).rowcount == 1
    handoff = _open_handoff_of(session, conversation_id)
    if handoff is None:
        # Only a handoff closed between the insert and this read gets here; that is a bug, not a race to hide.
        raise HandoffError(f"conversation {conversation_id}: the handoff just opened is not open")
    if inserted:
        _record(session, handoff, None, None, now, "handoff.open", f"reason={reason} priority={priority}")
    return handoff


def record_unstaffed_request(session: Session, conversation_id: str, reason: str, *,
                             now: Optional[datetime] = None) -> None:
    """A visitor wanted a person while nobody could come: no handoff opens (they get the clinic's
    contact details), but the unmet request is kept, for the reports."""
    session.add(AuditEntry(staff_id=None, action=UNSTAFFED_REQUEST, conversation_id=conversation_id,
                           detail=f"reason={reason}"[:255], at=now or utcnow()))


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
        update(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATES))
        .values(last_visitor_message=preview).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


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


def _open_handoff_of(session: Session, conversation_id: str) -> Optional[Handoff]:
    return session.execute(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATES))
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
        claimed_by = session.get(StaffMember, handoff.assigned_to)
        raise HandoffConflict(handoff_id, claimed_by.id, claimed_by.display_name)
    raise InvalidTransition(handoff_id, handoff.status, to_status)


def _record(session: Session, handoff: Handoff, from_status: Optional[str], actor: Optional[int],
            now: datetime, action: str, detail: str) -> None:
    session.add(HandoffTransition(handoff_id=handoff.id, from_status=from_status, to_status=handoff.status,
                                  actor=actor, at=now))
    session.add(AuditEntry(staff_id=actor, action=action, conversation_id=handoff.conversation_id,
                           detail=f"handoff {handoff.id}: {detail}", at=now))
