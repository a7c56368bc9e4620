"""Starts every conversation by saying the visitor is talking to an automated assistant.

A session that expires (domain.yml `session_expiration_time`) while a person from admissions has
the conversation does not hand it back to the bot: the new session stays paused, so the visitor
keeps talking to the person, until staff resolve it or the wait expires.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, BotUttered, ConversationPaused, SessionStarted
from rasa_sdk.executor import CollectingDispatcher

from actions.gateway import post_to_gateway
from actions.replies import knowledge, short_answer


async def handoff_still_open(conversation_id: str) -> bool:
    """Whether staff still have (or are about to take) the conversation. If the gateway cannot say,
    assume they do: the gateway resumes a conversation that turns out to have nobody."""
    answer = await post_to_gateway("/internal/handoffs/status", {"conversation_id": conversation_id})
    return answer is None or bool(answer.get("open"))


class ActionSessionStart(Action):
    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if tracker.is_paused() and await handoff_still_open(tracker.sender_id):
            return [SessionStarted(), ConversationPaused(), ActionExecuted("action_listen")]
        disclosure = short_answer(knowledge().require("disclosure"))
        # Returned as an event after SessionStarted (not via the dispatcher, which
        # Rasa would place before it) so the disclosure belongs to the new session.
        return [
            SessionStarted(),
            BotUttered(text=disclosure["text"], data={"buttons": disclosure["buttons"] or None}),
            ActionExecuted("action_listen"),
        ]
