"""Privacy retention: delete transcripts, notes, closed handoffs, callback requests, visitors' ratings and
the review queue's copies of messages older than `RETENTION_DAYS` (`python -m bot purge`).

Two databases, each in one transaction: the app DB (callback requests, notes, closed handoffs
and their history) and Rasa's tracker store (whole conversations that have been quiet since the
cutoff). The audit log is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, Optional, Set, Tuple

import sqlalchemy as sa
from sqlalchemy import delete, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.domain.handoffs.lifecycle import OPEN_STATES
from bot.settings import Settings
from bot.store import (
    CallbackRequest,
    Handoff,
    HandoffTransition,
    MessageRating,
    Note,
    ReviewDecision,
    session_scope,
    utcnow,
)
from bot.store.rasa_events import EVENTS, tracker_store


@dataclass(frozen=True)
class PurgeReport:
    """What was deleted (or, on a dry run, would have been), per kind."""

    cutoff: datetime
    dry_run: bool
    conversations: int
    tracker_events: int
    handoffs: int
    handoff_transitions: int
    notes: int
    callback_requests: int
    message_ratings: int
    review_decisions: int

    def counts(self) -> Dict[str, int]:
        return {
            "conversations": self.conversations,
            "tracker_events": self.tracker_events,
            "handoffs": self.handoffs,
            "handoff_transitions": self.handoff_transitions,
            "notes": self.notes,
            "callback_requests": self.callback_requests,
            "message_ratings": self.message_ratings,
            "review_decisions": self.review_decisions,
        }


def purge_expired(settings: Settings, now: Optional[datetime] = None, dry_run: bool = False) -> PurgeReport:
    """Delete everything older than `now - retention_days`; a dry run counts the same rows and
    rolls back, so its counts are exactly what a real run would delete at that moment."""
    cutoff = (now or utcnow()) - timedelta(days=settings.retention_days)
    with session_scope(settings.app_db_url) as session:
        app_counts = _purge_app_db(session, cutoff)
        # Staff may still be reading an open handoff's transcript, however old its last message.
        in_handoff = set(session.execute(
            select(Handoff.conversation_id).where(Handoff.status.in_(OPEN_STATES))
        ).scalars())
        if dry_run:
            session.rollback()
    conversations, events = _purge_tracker_store(settings.tracker_db_url, cutoff, in_handoff, dry_run)
    return PurgeReport(cutoff=cutoff, dry_run=dry_run, conversations=conversations, tracker_events=events,
                       **app_counts)


def _purge_app_db(session: Session, cutoff: datetime) -> Dict[str, int]:
    # The audit log is not purged: audit trails are kept longer, for accountability, and its
    # entries hold no message text or contact details.
    closed = select(Handoff.id).where(Handoff.status.not_in(OPEN_STATES), Handoff.closed_at < cutoff)
    # Children before the handoffs they point at, or the foreign keys refuse the delete.
    statements = {
        "handoff_transitions": delete(HandoffTransition).where(HandoffTransition.handoff_id.in_(closed)),
        "notes": delete(Note).where(or_(Note.created_at < cutoff, Note.handoff_id.in_(closed))),
        "handoffs": delete(Handoff).where(Handoff.id.in_(closed)),
        "callback_requests": delete(CallbackRequest).where(CallbackRequest.created_at < cutoff),
        "message_ratings": delete(MessageRating).where(MessageRating.rated_at < cutoff),
        # A decision holds the message as typed: it goes when the message would have.
        "review_decisions": delete(ReviewDecision).where(ReviewDecision.message_at < cutoff),
    }
    return {
        kind: session.execute(statement, execution_options={"synchronize_session": False}).rowcount
        for kind, statement in statements.items()
    }


def _purge_tracker_store(url: str, cutoff: datetime, keep: Set[str], dry_run: bool) -> Tuple[int, int]:
    """(conversations, events) deleted: every conversation whose newest event is older than the
    cutoff. Old events of a conversation still going on stay: without them Rasa would replay a
    tracker that starts mid-conversation."""
    with tracker_store(url) as engine:
        if engine is None:
            return 0, 0
        with engine.connect() as connection:
            with connection.begin() as transaction:
                counts = _delete_quiet_conversations(connection, cutoff.timestamp(), keep)
                if dry_run:
                    transaction.rollback()
                return counts


def _delete_quiet_conversations(connection: Connection, cutoff: float, keep: Set[str]) -> Tuple[int, int]:
    quiet = select(EVENTS.c.sender_id).group_by(EVENTS.c.sender_id).having(sa.func.max(EVENTS.c.timestamp) < cutoff)
    if keep:
        quiet = quiet.where(EVENTS.c.sender_id.not_in(sorted(keep)))
    conversations = connection.execute(select(sa.func.count()).select_from(quiet.subquery())).scalar_one()
    # One statement that re-evaluates "quiet", so a conversation that just got a message is spared.
    events = connection.execute(delete(EVENTS).where(EVENTS.c.sender_id.in_(quiet))).rowcount
    return conversations, events

