"""The review queue (console, /console/review): every visitor message as the model understood it,
newest first, and the maintainer's decisions on them, exported as training data.

Messages are read from Rasa's tracker store, where the NLU pipeline left its parse (intent,
confidence, ranking, entities, and `safety_rule` when a crisis layer forced the intent). Button
payloads (`/ask_iop`) are left out: the visitor chose an answer, nothing was understood.
Filters that SQL cannot express (confidence, ratings, handoffs) are applied in Python over at most
SCAN_ROWS messages per page, so a page costs the same however big the store grows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import training_examples
from bot.domain.privacy.scrubbing import scrub
from bot.domain.safety.patterns_file import INTENTS as CRISIS_INTENTS
from bot.settings import Settings
from bot.store import audit
from bot.store.db import session_scope
from bot.store.models import Handoff, MessageRating, ReviewDecision, StaffMember, utcnow
from bot.store.rasa_events import EVENTS, UNANSWERED_INTENTS, tracker_store

FILTERS = ("all", "fallback", "low_confidence", "handoff", "crisis", "thumbs_down", "undecided")
PAGE_SIZE = 50
SCAN_ROWS = 5_000
BATCH_ROWS = 500
MAX_SEARCH_CHARS = 100


class ReviewError(ValueError):
    """A decision or export the queue refuses, with the reason for the maintainer."""


@dataclass(frozen=True)
class Decision:
    decision: str
    intent: Optional[str]
    decided_by: str
    decided_at: datetime
    crisis: bool
    crisis_confirmed: bool
    exported: bool


@dataclass(frozen=True)
class ReviewItem:
    event_id: int
    conversation_id: str
    at: datetime
    text: str
    intent: Optional[str]
    confidence: Optional[float]
    ranking: Tuple[Tuple[str, float], ...]
    entities: Tuple[Tuple[str, str], ...]
    # "crisis rules", "semantic layer" or "intent classifier" when the intent is a safety intent.
    crisis_layer: Optional[str]
    rating: Optional[str]
    led_to_handoff: bool
    decision: Optional[Decision]


@dataclass(frozen=True)
class ReviewPage:
    items: Tuple[ReviewItem, ...]
    # The cursor for the next (older) page, or None at the end.
    next_before: Optional[int]
    scanned: int


def crisis_layer(intent: Optional[str], parse: Dict[str, Any]) -> Optional[str]:
    if intent not in CRISIS_INTENTS:
        return None
    rule = parse.get("safety_rule")
    if not rule:
        return "intent classifier"
    return "semantic layer" if str(rule).startswith("semantic:") else "crisis rules"


def review_page(settings: Settings, filter_name: str = "all", search: str = "",
                before: Optional[int] = None) -> ReviewPage:
    if filter_name not in FILTERS:
        raise ReviewError(f"unknown filter {filter_name!r}")
    search = search.strip()[:MAX_SEARCH_CHARS].casefold()
    found: List[ReviewItem] = []
    scanned = 0
    cursor = before
    with tracker_store(settings.tracker_db_url) as engine:
        if engine is None:
            return ReviewPage((), None, 0)
        with engine.connect() as connection:
            while len(found) < PAGE_SIZE and scanned < SCAN_ROWS:
                rows = connection.execute(_user_events(filter_name, cursor, BATCH_ROWS)).all()
                if not rows:
                    cursor = None
                    break
                scanned += len(rows)
                cursor = rows[-1].id
                for item in _items(connection, settings, rows):
                    if _wanted(item, filter_name, search, settings):
                        found.append(item)
                        if len(found) == PAGE_SIZE:
                            # The next page goes on right after this item, not after the whole batch.
                            cursor = item.event_id
                            break
    return ReviewPage(tuple(found), cursor, scanned)


def _user_events(filter_name: str, before: Optional[int], limit: int) -> Any:
    query = (select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.timestamp, EVENTS.c.data)
             .where(EVENTS.c.type_name == "user").order_by(EVENTS.c.id.desc()).limit(limit))
    if before is not None:
        query = query.where(EVENTS.c.id < before)
    if filter_name == "fallback":
        query = query.where(EVENTS.c.intent_name.in_(UNANSWERED_INTENTS))
    elif filter_name == "crisis":
        query = query.where(EVENTS.c.intent_name.in_(CRISIS_INTENTS))
    return query


def _items(connection: sa.engine.Connection, settings: Settings, rows: Sequence[Any]) -> List[ReviewItem]:
    parsed = [(row, json.loads(row.data)) for row in rows]
    parsed = [(row, data) for row, data in parsed if not str(data.get("text") or "").startswith("/")]
    conversations = sorted({row.sender_id for row, _ in parsed})
    event_ids = [row.id for row, _ in parsed]
    with session_scope(settings.app_db_url) as session:
        ratings = _ratings(session, conversations)
        decisions = _decisions(session, event_ids)
        handoff_times = session.execute(
            select(Handoff.conversation_id, Handoff.created_at).where(Handoff.conversation_id.in_(conversations))
        ).all() if conversations else []
    triggers = _handoff_triggers(connection, handoff_times)
    items = []
    for row, data in parsed:
        parse = data.get("parse_data") or {}
        intent = (parse.get("intent") or {}).get("name")
        confidence = (parse.get("intent") or {}).get("confidence")
        client_id = (data.get("metadata") or {}).get("client_id")
        items.append(ReviewItem(
            event_id=row.id, conversation_id=row.sender_id,
            at=datetime.fromtimestamp(float(row.timestamp), tz=timezone.utc), text=str(data.get("text") or ""),
            intent=intent, confidence=float(confidence) if confidence is not None else None,
            ranking=tuple((str(r.get("name")), float(r.get("confidence") or 0))
                          for r in (parse.get("intent_ranking") or [])[:3]),
            entities=tuple((str(e.get("entity")), str(e.get("value"))) for e in parse.get("entities") or []),
            crisis_layer=crisis_layer(intent, parse),
            rating=ratings.get((row.sender_id, client_id)) if client_id else None,
            led_to_handoff=row.id in triggers, decision=decisions.get(row.id),
        ))
    return items


def _ratings(session: Session, conversations: List[str]) -> Dict[Tuple[str, str], str]:
    if not conversations:
        return {}
    rows = session.execute(select(MessageRating.conversation_id, MessageRating.client_id, MessageRating.rating)
                           .where(MessageRating.conversation_id.in_(conversations))).all()
    return {(row.conversation_id, row.client_id): row.rating for row in rows}


def _decisions(session: Session, event_ids: List[int]) -> Dict[int, Decision]:
    if not event_ids:
        return {}
    rows = session.execute(select(ReviewDecision, StaffMember.display_name)
                           .join(StaffMember, StaffMember.id == ReviewDecision.decided_by)
                           .where(ReviewDecision.event_id.in_(event_ids))).all()
    return {row.ReviewDecision.event_id: _decision(row.ReviewDecision, row.display_name) for row in rows}


def _decision(row: ReviewDecision, staff_name: str) -> Decision:
    return Decision(row.decision, row.intent, staff_name, row.decided_at, row.crisis,
                    row.crisis_confirmed_by is not None, row.exported_at is not None)


def _handoff_triggers(connection: sa.engine.Connection, handoff_times: Iterable[Any]) -> Set[int]:
    """The visitor message each handoff followed: the conversation's last one before it opened."""
    triggers: Set[int] = set()
    for conversation_id, created_at in handoff_times:
        found = connection.execute(
            select(sa.func.max(EVENTS.c.id)).where(EVENTS.c.sender_id == conversation_id,
                                                   EVENTS.c.type_name == "user",
                                                   EVENTS.c.timestamp <= created_at.timestamp())
        ).scalar()
        if found is not None:
            triggers.add(int(found))
    return triggers


def _wanted(item: ReviewItem, filter_name: str, search: str, settings: Settings) -> bool:
    if search and search not in item.text.casefold():
        return False
    if filter_name == "low_confidence":
        return item.confidence is not None and item.confidence < settings.review_low_confidence
    if filter_name == "handoff":
        return item.led_to_handoff
    if filter_name == "thumbs_down":
        return item.rating == "down"
    if filter_name == "undecided":
        return item.decision is None
    return True


# ---------------------------------------------------------------------------------------- decisions

def decide(settings: Settings, staff_id: int, conversation_id: str, event_id: int, decision: str,
           intent: Optional[str], intents: Sequence[str]) -> ReviewDecision:
    """Record a maintainer's decision on one message (audited). `intents`: those a message may be given."""
    if decision not in ("correct", "relabel", "ignore"):
        raise ReviewError(f"unknown decision {decision!r}")
    message = _message(settings, conversation_id, event_id)
    if message is None:
        raise ReviewError("that message is no longer stored (retention may have deleted it)")
    text, predicted, confidence, at = message
    if decision == "correct":
        intent = predicted
        if intent not in intents:
            raise ReviewError(f"the predicted intent {predicted!r} is not one to train on; relabel the message")
    elif decision == "relabel":
        if intent not in intents:
            raise ReviewError(f"pick one of the catalogue's intents, not {intent!r}")
    else:
        intent = None
    with session_scope(settings.app_db_url) as session:
        row = session.execute(select(ReviewDecision).where(ReviewDecision.conversation_id == conversation_id,
                                                           ReviewDecision.event_id == event_id)
                              ).scalar_one_or_none()
        if row is not None and row.exported_at is not None:
            raise ReviewError("that message is already exported; change it in the reviewed data file instead")
        if row is None:
            row = ReviewDecision(conversation_id=conversation_id, event_id=event_id)
            session.add(row)
        row.text, row.message_at, row.predicted_intent, row.confidence = text, at, predicted, confidence
        row.decision, row.intent = decision, intent
        row.crisis = predicted in CRISIS_INTENTS or intent in CRISIS_INTENTS
        row.crisis_confirmed_by = None
        row.decided_by, row.decided_at = staff_id, utcnow()
        session.flush()
        audit.record(session, staff_id, "review.decide", conversation_id=conversation_id,
                     detail=f"event {event_id}: {decision}" + (f" as {intent}" if intent else ""))
        session.expunge(row)
        return row


def confirm_crisis(settings: Settings, staff_id: int, conversation_id: str, event_id: int) -> None:
    """The second, explicit confirmation a crisis message needs before it may be exported (audited)."""
    with session_scope(settings.app_db_url) as session:
        row = session.execute(select(ReviewDecision).where(ReviewDecision.conversation_id == conversation_id,
                                                           ReviewDecision.event_id == event_id)
                              ).scalar_one_or_none()
        if row is None or not row.crisis or row.decision == "ignore":
            raise ReviewError("only a crisis message marked correct or relabelled needs this confirmation")
        row.crisis_confirmed_by = staff_id
        audit.record(session, staff_id, "review.confirm_crisis", conversation_id=conversation_id,
                     detail=f"event {event_id}")


def _message(settings: Settings, conversation_id: str,
             event_id: int) -> Optional[Tuple[str, Optional[str], Optional[float], datetime]]:
    with tracker_store(settings.tracker_db_url) as engine:
        if engine is None:
            return None
        with engine.connect() as connection:
            row = connection.execute(select(EVENTS.c.timestamp, EVENTS.c.data).where(
                EVENTS.c.id == event_id, EVENTS.c.sender_id == conversation_id, EVENTS.c.type_name == "user")
            ).first()
    if row is None:
        return None
    data = json.loads(row.data)
    intent = (data.get("parse_data") or {}).get("intent") or {}
    confidence = intent.get("confidence")
    return (str(data.get("text") or ""), intent.get("name"), float(confidence) if confidence is not None else None,
            datetime.fromtimestamp(float(row.timestamp), tz=timezone.utc))


# ------------------------------------------------------------------------------------------- export

@dataclass(frozen=True)
class LeftOut:
    event_id: int
    conversation_id: str
    text: str
    reason: str


@dataclass(frozen=True)
class ExportReport:
    path: Path
    written: Tuple[Tuple[str, str], ...]
    duplicates: int
    still_personal: Tuple[LeftOut, ...]
    crisis_unconfirmed: int


def export_reviewed(settings: Settings, staff_id: int) -> ExportReport:
    """Write every confirmed or relabelled message not yet exported into `settings.reviewed_nlu_file`,
    scrubbed of personal details, grouped by intent, without examples the data already has. A message
    that still looks personal after scrubbing, and a crisis message without its second confirmation,
    stay out (and stay pending). Audited with the counts, never the text."""
    path = settings.reviewed_nlu_file
    with session_scope(settings.app_db_url) as session:
        pending = session.execute(select(ReviewDecision).where(
            ReviewDecision.decision.in_(("correct", "relabel")), ReviewDecision.exported_at.is_(None),
            ReviewDecision.intent.isnot(None)).order_by(ReviewDecision.message_at)).scalars().all()
        known = training_examples.known_examples(path.parent)
        existing = training_examples.read_examples(path) if path.is_file() else []
        written: List[Tuple[str, str]] = []
        left_out: List[LeftOut] = []
        unconfirmed = duplicates = 0
        exported: List[ReviewDecision] = []
        for row in pending:
            if row.crisis and row.crisis_confirmed_by is None:
                unconfirmed += 1
                continue
            scrubbed = scrub(row.text)
            if scrubbed.still_personal:
                left_out.append(LeftOut(row.event_id, row.conversation_id, scrubbed.text, scrubbed.still_personal))
                continue
            example = training_examples.as_example(scrubbed.text)
            key = training_examples.normalise(example)
            exported.append(row)
            if not key or key in known:
                duplicates += 1
                continue
            known.add(key)
            written.append((str(row.intent), example))
        # Only when something is new: an unchanged file is an unchanged model (the training fingerprint).
        if written:
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = path.with_suffix(".tmp")
            scratch.write_text(training_examples.render([*existing, *written]), encoding="utf-8")
            scratch.replace(path)
        now = utcnow()
        for row in exported:
            row.exported_at = now
        audit.record(session, staff_id, "review.export", detail=(
            f"{len(written)} written, {duplicates} duplicates, {len(left_out)} still personal, "
            f"{unconfirmed} crisis unconfirmed"))
    return ExportReport(path, tuple(written), duplicates, tuple(left_out), unconfirmed)
