"""A bare "yes" continues whatever the assistant offered last."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import hand_over
from actions.replies import REQUEST_HUMAN_PAYLOAD, knowledge, long_answer, short_answer


def last_offered_payloads(tracker: Tracker) -> List[str]:
    """Button payloads of the bot's last message before the visitor's latest one."""
    seen_latest_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_latest_user:
                return []
            seen_latest_user = True
        elif event.get("event") == "bot" and seen_latest_user:
            buttons = (event.get("data") or {}).get("buttons") or []
            return [button.get("payload", "") for button in buttons]
    return []


def offered_topic(payloads: List[str]) -> Optional[str]:
    for payload in payloads:
        if payload.startswith("/tell_me_more{"):
            return json.loads(payload[len("/tell_me_more"):]).get("topic")
    return None


class ActionAnswerYes(Action):
    def name(self) -> Text:
        return "action_answer_yes"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        payloads = last_offered_payloads(tracker)
        if REQUEST_HUMAN_PAYLOAD in payloads:
            return await hand_over(dispatcher, tracker, "visitor accepted an offer of a person")
        topic = offered_topic(payloads)
        entry = knowledge().named(topic)
        if entry:
            dispatcher.utter_message(**long_answer(entry))
            return [SlotSet("topic", entry.id)]
        dispatcher.utter_message(**short_answer(knowledge().require_for_intent("ask_capabilities")))
        return []
