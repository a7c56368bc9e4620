"""Custom Rasa NLU components: knowledge entities and the safety override."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.domain.safety.detector import CrisisDetector
from bot.rasa_plugins.semantic_crisis import SEMANTIC_CRISIS, semantic_match
from bot.rasa_plugins.spacy_pipeline import ENTITY_FOR_KIND


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False, model_from="SpacyNLP"
)
class KnowledgeEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Reads the entity ruler's matches and reports the knowledge entry id as the value."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [SpacyNLP]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "KnowledgeEntityExtractor":
        return cls()

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        labels = set(ENTITY_FOR_KIND.values())
        for message in messages:
            text = message.get(TEXT) or ""
            # SpacyNLP already parsed the text; reuse its doc rather than parse twice.
            doc = message.get(SPACY_DOCS[TEXT]) or model.model(text)
            found = [
                {
                    "entity": ent.label_,
                    "value": ent.ent_id_,
                    "start": ent.start_char,
                    "end": ent.end_char,
                    "confidence": 1.0,
                }
                for ent in doc.ents
                if ent.label_ in labels and ent.ent_id_
            ]
            extracted = self.add_extractor_name(found)
            message.set(ENTITIES, message.get(ENTITIES, []) + extracted, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class CrisisOverride(GraphComponent):
    """Runs both crisis layers on every message and overrides the predicted intent on a match.

    The rule patterns (data/safety/crisis_patterns.yml) are the floor; the semantic layer
    (bot/rasa_plugins/semantic_crisis.py) catches phrasings the rules do not know. Placed last in the pipeline
    so neither the intent classifier nor the fallback classifier can hide a crisis.
    """

    def __init__(self, detector: CrisisDetector) -> None:
        self._detector = detector

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CrisisOverride":
        # Patterns load from the data file at start-up, so editing them needs no retraining.
        return cls(CrisisDetector.from_file())

    def _match(self, message: Message) -> Optional[Tuple[str, str]]:
        rule = self._detector.detect(message.get(TEXT) or "")
        if rule is not None:
            return rule.intent, rule.pattern_id
        parsed = message.get(SEMANTIC_CRISIS)
        intent = semantic_match(parsed, message.get(INTENT_RANKING_KEY) or [])
        return None if intent is None else (intent, f"semantic:{parsed['probability']:.2f}")

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            match = self._match(message)
            if match is None:
                continue
            intent, why = match
            forced = {"name": intent, "confidence": 1.0}
            ranking: List[Dict[str, Any]] = [
                item for item in message.get(INTENT_RANKING_KEY) or [] if item.get("name") != intent
            ]
            message.set(INTENT, forced, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [forced] + ranking, add_to_output=True)
            message.set("safety_rule", why, add_to_output=True)
        return messages
