"""The app DB's tables: staff accounts, handoffs and their history, notes, canned replies,
callback requests, the audit log, and the maintainer's loop (ratings, review decisions, deployments).

Times are stored as naive UTC (SQLite keeps no time zone) and handed to Python as aware
UTC datetimes, so both databases behave the same.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator

from bot.domain.handoffs.lifecycle import OPEN_STATES, PRIORITIES, STATES as HANDOFF_STATES

# Named constraints let later migrations alter or drop them by name on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# SQLAlchemy 1.4 ships no type information, so the generated base can only be Any to mypy.
Base: Any = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

PRESENCES = ("online", "away", "offline")
CALLBACK_STATES = ("open", "closed")
RATINGS = ("up", "down")
REVIEW_DECISIONS = ("correct", "relabel", "ignore")
DEPLOYMENT_KINDS = ("deploy", "rollback")
# Enough for the console's queue line; the transcript holds the whole message.
PREVIEW_CHARS = 140


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _one_of(column: str, values: tuple) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive time is ambiguous (local or UTC?); refusing it catches the bug where it starts.
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class StaffMember(Base):
    __tablename__ = "staff_members"
    __table_args__ = (CheckConstraint(_one_of("presence", PRESENCES), name="presence"),)

    id = Column(Integer, primary_key=True)
    email = Column(String(254), nullable=False, unique=True)
    display_name = Column(String(100), nullable=False)
    password_hash = Column(String(255), nullable=False)
    is_admin = Column(Boolean, nullable=False, default=False)
    # May review messages, export training data and deploy models (admins may too).
    is_maintainer = Column(Boolean, nullable=False, default=False, server_default="0")
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime)
    presence = Column(String(10), nullable=False, default="offline")
    last_seen = Column(UTCDateTime)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # A disabled account cannot sign in; console sessions signed before sessions_revoked_at stop working.
    disabled_at = Column(UTCDateTime)
    sessions_revoked_at = Column(UTCDateTime)
    # Lockouts in a row: each one locks the account twice as long as the last (reset on sign-in).
    lockouts = Column(Integer, nullable=False, default=0, server_default="0")


class ConsoleSession(Base):
    """One console sign-in. The cookie carries a random token and the table only its SHA-256, so
    signing out ends the session everywhere and a copied cookie stops working with it."""

    __tablename__ = "console_sessions"

    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    staff_id = Column(Integer, ForeignKey("staff_members.id"), nullable=False, index=True)
    csrf = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    last_seen_at = Column(UTCDateTime, nullable=False)
    ended_at = Column(UTCDateTime)


class Handoff(Base):
    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(_one_of("priority", PRIORITIES), name="priority"),
        CheckConstraint(_one_of("status", HANDOFF_STATES), name="status"),
        # At most one open handoff per conversation, enforced by the database itself so that
        # two simultaneous requests cannot both open one.
        Index(
            "uq_handoffs_open_conversation", "conversation_id", unique=True,
            sqlite_where=text(_one_of("status", OPEN_STATES)),
            postgresql_where=text(_one_of("status", OPEN_STATES)),
        ),
        Index("ix_handoffs_status_created_at", "status", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False)
    reason = Column(String(40), nullable=False)
    priority = Column(String(10), nullable=False)
    last_intent = Column(String(100))
    status = Column(String(10), nullable=False, default="waiting")
    assigned_to = Column(Integer, ForeignKey("staff_members.id"))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    claimed_at = Column(UTCDateTime)
    closed_at = Column(UTCDateTime)
    last_visitor_message = Column(String(PREVIEW_CHARS))


class HandoffTransition(Base):
    __tablename__ = "handoff_transitions"
    __table_args__ = (
        CheckConstraint(_one_of("to_status", HANDOFF_STATES), name="to_status"),
        # from_status is empty for the opening transition.
        CheckConstraint(f"from_status IS NULL OR {_one_of('from_status', HANDOFF_STATES)}", name="from_status"),
    )

    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=False, index=True)
    from_status = Column(String(10))
    to_status = Column(String(10), nullable=False)
    # A staff member, or empty when the visitor or the system (expiry) moved it.
    actor = Column(Integer, ForeignKey("staff_members.id"))
    at = Column(UTCDateTime, nullable=False, default=utcnow)


class Note(Base):
    """An internal note: staff only, never sent to the visitor."""

    __tablename__ = "notes"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"))
    staff_id = Column(Integer, ForeignKey("staff_members.id"), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class CannedReply(Base):
    __tablename__ = "canned_replies"

    id = Column(Integer, primary_key=True)
    title = Column(String(100), nullable=False)
    text = Column(Text, nullable=False)
    created_by = Column(Integer, ForeignKey("staff_members.id"), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class CallbackRequest(Base):
    """A consented callback; the contact fields hold Fernet tokens (see bot.store.crypto)."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        CheckConstraint(_one_of("status", CALLBACK_STATES), name="status"),
        Index("ix_callback_requests_status_created_at", "status", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False)
    first_name_enc = Column(Text, nullable=False)
    contact_enc = Column(Text, nullable=False)
    best_time_enc = Column(Text, nullable=False)
    consented_at = Column(UTCDateTime, nullable=False)
    status = Column(String(10), nullable=False, default="open")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    closed_by = Column(Integer, ForeignKey("staff_members.id"))
    closed_at = Column(UTCDateTime)
    # When the typed details were replaced in the Rasa transcript (bot.store.contact_redaction).
    redacted_at = Column(UTCDateTime)


class AuditEntry(Base):
    """Who did what, when, to which conversation. `detail` never holds message text or contact details."""

    __tablename__ = "audit_entries"

    id = Column(Integer, primary_key=True)
    staff_id = Column(Integer, ForeignKey("staff_members.id"))
    action = Column(String(40), nullable=False)
    conversation_id = Column(String(128), index=True)
    detail = Column(String(255))
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class MessageRating(Base):
    """A visitor's thumbs up or down on the answer to one of their messages (the widget's client_id,
    which the tracker keeps in the message's metadata). A second click replaces the first."""

    __tablename__ = "message_ratings"
    __table_args__ = (
        CheckConstraint(_one_of("rating", RATINGS), name="rating"),
        Index("uq_message_ratings_message", "conversation_id", "client_id", unique=True),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False)
    client_id = Column(String(64), nullable=False)
    rating = Column(String(4), nullable=False)
    rated_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class ReviewDecision(Base):
    """A maintainer's verdict on one visitor message: the predicted intent was right, the right intent
    is another, or the message teaches nothing. Holds the message as typed (scrubbed only on export),
    so retention deletes it with the conversation's age."""

    __tablename__ = "review_decisions"
    __table_args__ = (
        CheckConstraint(_one_of("decision", REVIEW_DECISIONS), name="decision"),
        Index("uq_review_decisions_message", "conversation_id", "event_id", unique=True),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False)
    # The tracker store's row id of the user event.
    event_id = Column(Integer, nullable=False)
    text = Column(Text, nullable=False)
    message_at = Column(UTCDateTime, nullable=False, index=True)
    predicted_intent = Column(String(100))
    confidence = Column(Float)
    decision = Column(String(10), nullable=False)
    # The intent the message belongs to: the predicted one when marked correct.
    intent = Column(String(100))
    # Crisis messages are never exported without a second, explicit confirmation.
    crisis = Column(Boolean, nullable=False, default=False)
    crisis_confirmed_by = Column(Integer, ForeignKey("staff_members.id"))
    decided_by = Column(Integer, ForeignKey("staff_members.id"), nullable=False)
    decided_at = Column(UTCDateTime, nullable=False, default=utcnow)
    exported_at = Column(UTCDateTime)


class ModelDeployment(Base):
    """One model made live on the rasa server: by whom (a staff member, or the CLI's user), when,
    what it replaced and the evaluation it passed (JSON)."""

    __tablename__ = "model_deployments"
    __table_args__ = (CheckConstraint(_one_of("kind", DEPLOYMENT_KINDS), name="kind"),)

    id = Column(Integer, primary_key=True)
    model_name = Column(String(200), nullable=False)
    previous_model = Column(String(200))
    kind = Column(String(10), nullable=False, default="deploy")
    staff_id = Column(Integer, ForeignKey("staff_members.id"))
    deployed_by = Column(String(100), nullable=False)
    deployed_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    forced = Column(Boolean, nullable=False, default=False)
    evaluation = Column(Text)
