"""The words the gateway and the chat widget show visitors, from the knowledge file's `messages`.

Rendered with the knowledge loader's `render`, the function the actions render answers with, so
the gateway fills clinic details (and the message limit) exactly as the actions do.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from bot.domain.knowledge.loader import KnowledgeBase, KnowledgeFileError, default as default_knowledge, render
from bot.gateway.visitor import frames
from bot.settings import Settings

# What the widget shows on its own, before or without an answer from the gateway: its labels, and
# the fallback for each error code whose frame comes without a message (docs/chat-protocol.md).
WIDGET_MESSAGES = (
    "widget_title", "widget_open_chat", "widget_close_chat", "widget_disclosure", "widget_privacy_note",
    "widget_privacy_link", "widget_new_tab", "widget_log_label", "widget_empty_log", "widget_typing",
    "widget_input_label", "widget_input_placeholder", "widget_send", "widget_send_form_label",
    "widget_connecting", "widget_reconnecting", "widget_state_sending", "widget_state_queued",
    "widget_state_waiting", "widget_state_failed", "widget_you_said", "widget_assistant_said",
    "widget_staff_label", "widget_suggested_replies", "widget_urgent_title", "widget_error_fallback",
    "talk_to_person_button", "widget_rate_label", "widget_rate_up", "widget_rate_down", "widget_rate_thanks",
    # Error codes, as fallbacks; message_too_long is also the widget's own notice before sending.
    "assistant_unavailable", "message_too_long", "empty_message", "rate_limited", "too_many_connections",
    "hello_required",
)
# Everything else the gateway sends by name.
GATEWAY_MESSAGES = (
    "bad_request_not_text", "bad_request_not_json", "bad_request_unknown_type", "bad_request_message_fields",
    "bad_request_rating",
    "request_callback_button", "privacy_page_title", "privacy_page_heading", "privacy_page_text",
)
# The widget's own buttons, offered in every conversation: payload -> the message that is its title.
WIDGET_PAYLOADS = {"/request_human": "talk_to_person_button"}
# The line in widget.js the gateway replaces with the widget's texts and limit when serving it.
WIDGET_MARKER = "var SERVED = {};"


class VisitorTexts:
    """Renders the gateway's messages for one gateway's settings (clinic details, message limit)."""

    def __init__(self, settings: Settings, knowledge: Optional[KnowledgeBase] = None) -> None:
        self.settings = settings
        self.knowledge = knowledge or default_knowledge()
        # At start-up, not at the first error: a knowledge file without them is a deployment error.
        missing = [name for name in WIDGET_MESSAGES + GATEWAY_MESSAGES if name not in self.knowledge.messages]
        if missing:
            raise KnowledgeFileError(f"the knowledge file lacks the messages {', '.join(missing)}")

    def details(self) -> Dict[str, Any]:
        return {**self.settings.clinic_details(), "max_message_chars": self.settings.max_message_chars}

    def message(self, name: str, **values: Any) -> str:
        """The knowledge file's message `name`; `values` supplies any runtime value it quotes."""
        return self.knowledge.message(name, {**self.details(), **values})

    def error_frame(self, code: str, text: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
        """An error frame; its words are the knowledge file's message named as the code, unless given."""
        return frames.error_frame(code, self.message(code) if text is None else text, **extra)

    def answer(self, entry_id: str) -> str:
        """An entry's short answer (e.g. handoff_expired), rendered as the actions render it."""
        entry = self.knowledge.require(entry_id)
        return render(entry.short, entry.requires, self.details(), entry.unknown)

    def widget(self) -> Dict[str, Any]:
        """What the widget needs before any answer: the `welcome` frame's and widget.js's `texts` and limit."""
        return {"max_message_chars": self.settings.max_message_chars,
                "texts": {name: self.message(name) for name in WIDGET_MESSAGES}}

    def standing_payloads(self) -> Dict[str, str]:
        """The widget's own buttons: payload -> title as the visitor sees it."""
        return {payload: self.message(name) for payload, name in WIDGET_PAYLOADS.items()}

    def widget_script(self, source: str) -> str:
        """widget.js as served: its marker line replaced by the widget's texts and limit."""
        if source.count(WIDGET_MARKER) != 1:
            raise ValueError(f"widget.js must contain the line {WIDGET_MARKER!r} exactly once")
        # JSON is JavaScript; ensure_ascii also escapes U+2028/U+2029, which old engines reject in strings.
        return source.replace(WIDGET_MARKER, f"var SERVED = {json.dumps(self.widget(), ensure_ascii=True)};")
