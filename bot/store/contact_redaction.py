"""Contact details out of the transcript once they are stored encrypted.

The callback form reads the visitor's first name, phone or email and best time from their
messages, so Rasa's tracker holds them in plain text (the messages, the NLU parse and the slot
events). The gateway stores them encrypted (bot.store.crypto); this job then replaces every
occurrence in that conversation's tracker events with a marker, so the only readable copy is
behind the key and the audited console view.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Iterable, Optional

import sqlalchemy as sa
from sqlalchemy import select

from bot.domain.privacy.redaction import redact, values_pattern
from bot.settings import Settings
from bot.store import CallbackRequest, ContactCipher, session_scope, utcnow
from bot.store.rasa_events import EVENTS, tracker_store

# Rasa saves a turn's events after the turn's actions have run, so a request is redacted only
# once the turn that stored it has certainly been written.
SETTLE_TIME = timedelta(seconds=10)


def redact_stored_callbacks(settings: Settings, cipher: ContactCipher, now: Optional[datetime] = None) -> int:
    """Redact the transcripts of callback requests not yet redacted; returns how many were."""
    now = now or utcnow()
    with session_scope(settings.app_db_url) as session:
        pending = session.execute(
            select(CallbackRequest).where(CallbackRequest.redacted_at.is_(None),
                                          CallbackRequest.created_at <= now - SETTLE_TIME)
        ).scalars().all()
        if not pending:
            return 0
        with tracker_store(settings.tracker_db_url) as tracker:
            if tracker is None:
                return 0
            for callback in pending:
                values = [cipher.decrypt(field) for field in
                          (callback.first_name_enc, callback.contact_enc, callback.best_time_enc)]
                with tracker.begin() as connection:
                    redact_conversation(connection, callback.conversation_id, values)
                callback.redacted_at = now
        return len(pending)


def redact_conversation(connection: Any, conversation_id: str, values: Iterable[str]) -> int:
    """Replace each value, as a whole word, in every string of the conversation's events."""
    pattern = values_pattern(values)
    if pattern is None:
        return 0
    changed = 0
    rows = connection.execute(select(EVENTS.c.id, EVENTS.c.data).where(EVENTS.c.sender_id == conversation_id))
    for event_id, data in rows.all():
        event = json.loads(data)
        redacted = redact(event, pattern)
        if redacted != event:
            connection.execute(sa.update(EVENTS).where(EVENTS.c.id == event_id).values(data=json.dumps(redacted)))
            changed += 1
    return changed
