"""Conversations saved in a tracker store exactly as Rasa saves them, for tests that read the store."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any, Dict, Sequence, Tuple

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_plugins.tracker_store import RecentEventsSQLTrackerStore
from bot.settings import REPO_ROOT

DOMAIN = Domain.load(str(REPO_ROOT / "domain.yml"))
# (conversation, client_id, text, parse_data)
Message = Tuple[str, str, str, Dict[str, Any]]


def save_messages(url: str, messages: Sequence[Message], start: datetime) -> Dict[str, int]:
    """Each visitor message (one minute apart, in order) with an answer; the store's row id of each
    visitor message by its client id."""
    store = RecentEventsSQLTrackerStore(domain=DOMAIN, host=url)
    trackers: Dict[str, DialogueStateTracker] = {}
    for index, (conversation, client_id, text, parsed) in enumerate(messages):
        tracker = trackers.setdefault(conversation, DialogueStateTracker(conversation, DOMAIN.slots))
        at = (start + timedelta(minutes=index)).timestamp()
        tracker.update(UserUttered(text, parsed["intent"], parsed.get("entities") or [], parsed, timestamp=at,
                                   metadata={"client_id": client_id}))
        tracker.update(ActionExecuted("action_answer_knowledge", timestamp=at + 1))
        tracker.update(BotUttered("an answer", timestamp=at + 2))
    for tracker in trackers.values():
        asyncio.run(store.save(tracker))
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT id, data FROM events WHERE type_name = 'user'").all()
    store.engine.dispose()
    return {json.loads(data)["metadata"]["client_id"]: event_id for event_id, data in rows}
