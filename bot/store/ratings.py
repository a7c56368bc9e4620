"""Visitors' thumbs up and down on the assistant's answers (the widget's `rate` frame)."""

from __future__ import annotations

from sqlalchemy import select

from bot.settings import Settings
from bot.store import rasa_events
from bot.store.db import session_scope
from bot.store.models import MessageRating, utcnow


def record_rating(settings: Settings, conversation_id: str, client_id: str, rating: str) -> bool:
    """Store the rating of the answer to the visitor's message `client_id`; a second click replaces the
    first. False, storing nothing, when the conversation holds no such message."""
    if not rasa_events.user_message_exists(settings.tracker_db_url, conversation_id, client_id):
        return False
    with session_scope(settings.app_db_url) as session:
        row = session.execute(select(MessageRating).where(
            MessageRating.conversation_id == conversation_id, MessageRating.client_id == client_id)
        ).scalar_one_or_none()
        if row is None:
            session.add(MessageRating(conversation_id=conversation_id, client_id=client_id, rating=rating,
                                      rated_at=utcnow()))
        else:
            row.rating = rating
            row.rated_at = utcnow()
    return True
