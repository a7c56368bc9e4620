"""Which button payloads the bot offered each conversation: only those are obeyed as payloads.

A visitor can type `/intent{...}` as well as click a button, and Rasa obeys any text that starts
with `/`. So a message is passed on as a payload only when it is one the bot offered in this
conversation (its `display_text` only when it is that button's title); any other text that starts
with `/` goes to Rasa without its slashes, as words. The crisis rules have read the text as typed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Any, Dict, Iterable, Optional

from bot.gateway.visitor.frames import VisitorMessage

# Bounds on memory: the most recent payloads of each conversation, of the most recent conversations.
PAYLOADS_PER_CONVERSATION = 50
CONVERSATIONS = 10_000


class OfferedPayloads:
    def __init__(self, standing: Optional[Dict[str, str]] = None) -> None:
        # Offered in every conversation: the widget's own buttons (payload -> title).
        self._standing = dict(standing or {})
        self._offered: "OrderedDict[str, OrderedDict[str, str]]" = OrderedDict()

    def remember(self, conversation_id: str, messages: Iterable[Dict[str, Any]]) -> None:
        """Note the buttons of bot messages ({text, buttons: [{title, payload}]}) sent to the conversation."""
        for message in messages:
            for button in message.get("buttons") or ():
                payload, title = button.get("payload"), button.get("title")
                if isinstance(payload, str) and isinstance(title, str):
                    self._add(conversation_id, payload.strip(), title)

    def _add(self, conversation_id: str, payload: str, title: str) -> None:
        offered = self._offered.setdefault(conversation_id, OrderedDict())
        self._offered.move_to_end(conversation_id)
        offered[payload] = title
        offered.move_to_end(payload)
        while len(offered) > PAYLOADS_PER_CONVERSATION:
            offered.popitem(last=False)
        while len(self._offered) > CONVERSATIONS:
            self._offered.popitem(last=False)

    def title_of(self, conversation_id: str, payload: str) -> Optional[str]:
        payload = payload.strip()
        offered = self._offered.get(conversation_id)
        title = offered.get(payload) if offered is not None else None
        return title if title is not None else self._standing.get(payload)

    def vet(self, conversation_id: str, message: VisitorMessage) -> VisitorMessage:
        """The message as Rasa should read it (see the module's docstring)."""
        title = self.title_of(conversation_id, message.text)
        if title is not None:
            return replace(message, display_text=title if message.display_text == title else None)
        words = message.text.strip()
        if words.startswith("/"):
            words = words.lstrip("/").strip() or message.text
        else:
            words = message.text
        return replace(message, text=words, display_text=None)
