"""Starts every conversation by saying the visitor is talking to an automated assistant."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, BotUttered, SessionStarted
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import knowledge, short_answer


class ActionSessionStart(Action):
    def name(self) -> Text:
        return "action_session_start"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        disclosure = short_answer(knowledge().get("disclosure"))
        # Returned as an event after SessionStarted (not via the dispatcher, which
        # Rasa would place before it) so the disclosure belongs to the new session.
        return [
            SessionStarted(),
            BotUttered(text=disclosure["text"], data={"buttons": disclosure["buttons"] or None}),
            ActionExecuted("action_listen"),
        ]
