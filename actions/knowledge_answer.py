"""One action answers every knowledge intent: intent (+ entity) -> knowledge entry -> message."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import knowledge, list_answer, long_answer, short_answer
from bot.domain.knowledge.schema import Entry

# Intents whose entity, when present, names a more specific entry than the intent's own.
ENTITY_FOR_INTENT = {"ask_therapy": "therapy", "ask_programs": "program"}


def _latest_entity(tracker: Tracker, entity: str) -> Optional[str]:
    # A typed payload can carry any JSON as an entity value; only a string can name an entry.
    value = next(tracker.get_latest_entity_values(entity), None)
    return value if isinstance(value, str) else None


class ActionAnswerKnowledge(Action):
    def name(self) -> Text:
        return "action_answer_knowledge"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        if intent == "tell_me_more":
            return self._tell_me_more(dispatcher, tracker)

        entity = ENTITY_FOR_INTENT.get(intent)
        named = _latest_entity(tracker, entity) if entity else None
        entry = knowledge().named(named)
        if entry is None and intent == "ask_therapy":
            therapies = knowledge().of_kind("therapy")
            dispatcher.utter_message(**list_answer(knowledge().require_for_intent(intent), therapies))
            return [SlotSet("topic", None)]
        entry = entry or knowledge().for_intent(intent)
        if entry is None:
            return self._not_covered(dispatcher)
        dispatcher.utter_message(**short_answer(entry))
        return [SlotSet("topic", entry.id)]

    def _tell_me_more(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
        # A button says which topic; a typed "tell me more about the DBT one" names it; else the last answer's.
        topic = (_latest_entity(tracker, "topic") or _latest_entity(tracker, "therapy")
                 or _latest_entity(tracker, "program") or tracker.get_slot("topic"))
        entry: Optional[Entry] = knowledge().named(topic)
        if entry is None:
            # Nothing was discussed yet: show what the assistant can talk about.
            dispatcher.utter_message(**short_answer(knowledge().require_for_intent("ask_capabilities")))
            return []
        dispatcher.utter_message(**long_answer(entry))
        return [SlotSet("topic", entry.id)]

    def _not_covered(self, dispatcher: CollectingDispatcher) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(**short_answer(knowledge().require_for_intent("out_of_scope")))
        return []
