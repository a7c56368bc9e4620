"""Custom Rasa NLU components: knowledge entities and the safety override."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp.crisis import CrisisDetector
from bot.nlp.embedding_featurizer import SentenceEmbeddingFeaturizer, sentence_embedding
from bot.nlp.intent_classifier import TRUSTED_EXTRA_TYPES, UntrustedModelFile
from bot.nlp.semantic_crisis import SemanticCrisisModel, which_safety_intent
from bot.nlp.spacy_pipeline import ENTITY_FOR_KIND

SEMANTIC_MODEL_FILE = "semantic_crisis.skops"
SEMANTIC_THRESHOLD_FILE = "semantic_crisis.json"


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


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class CrisisOverride(GraphComponent):
    """Runs both crisis layers on every message and overrides the predicted intent on a match.

    The rule patterns (data/safety/crisis_patterns.yml) are the floor; the semantic layer
    (bot/nlp/semantic_crisis.py) catches phrasings the rules do not know. Placed last in the pipeline
    so neither the intent classifier nor the fallback classifier can hide a crisis.
    """

    @classmethod
    def required_components(cls) -> List[type]:
        return [SentenceEmbeddingFeaturizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # `semantic: false` leaves the rules alone (benchmarks compare the two).
        return {"semantic": True, "C": 30.0, "recall": 0.99, "random_seed": 7}

    def __init__(self, config: Dict[Text, Any], detector: CrisisDetector, model_storage: ModelStorage,
                 resource: Resource, semantic: Optional[SemanticCrisisModel] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._detector = detector
        self._storage = model_storage
        self._resource = resource
        self._semantic = semantic

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CrisisOverride":
        # Patterns load from the data file at start-up, so editing them needs no retraining.
        return cls(config, CrisisDetector.from_file(), model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        import skops.io as sio

        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        embeddings = [sentence_embedding(e) for e in examples]
        if not self._config["semantic"] or not examples or any(row is None for row in embeddings):
            return self._resource
        texts = [e.get(TEXT) for e in examples]
        self._semantic = SemanticCrisisModel.train(
            texts, np.stack([row for row in embeddings if row is not None]), [e.get(INTENT) for e in examples],
            np.array([self._detector.detect(text) is not None for text in texts]),
            self._config["C"], self._config["recall"], self._config["random_seed"])
        if self._semantic is not None:
            with self._storage.write_to(self._resource) as directory:
                sio.dump(self._semantic.parts(), directory / SEMANTIC_MODEL_FILE)
                (directory / SEMANTIC_THRESHOLD_FILE).write_text(json.dumps({"threshold": self._semantic.threshold}))
        return self._resource

    @classmethod
    def load(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext, **kwargs: Any,
    ) -> "CrisisOverride":
        import skops.io as sio

        semantic = None
        try:
            with model_storage.read_from(resource) as directory:
                path = directory / SEMANTIC_MODEL_FILE
                if path.exists():
                    untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_EXTRA_TYPES)
                    if untrusted:
                        raise UntrustedModelFile(f"refusing to load {path}: unexpected types {sorted(untrusted)}")
                    parts = sio.load(path, trusted=TRUSTED_EXTRA_TYPES)
                    threshold = json.loads((directory / SEMANTIC_THRESHOLD_FILE).read_text())["threshold"]
                    semantic = SemanticCrisisModel(parts["features"], parts["classifier"], threshold)
        except ValueError:
            pass  # Rasa's "resource does not exist": trained without NLU data, the rules alone decide.
        return cls(config, CrisisDetector.from_file(), model_storage, resource, semantic)

    def _match(self, message: Message) -> Optional[Tuple[str, str]]:
        text = message.get(TEXT) or ""
        rule = self._detector.detect(text)
        if rule is not None:
            return rule.intent, rule.pattern_id
        embedding = sentence_embedding(message)
        if self._semantic is None or embedding is None:
            return None
        probability = self._semantic.probability(text, embedding)
        if probability < self._semantic.threshold:
            return None
        return which_safety_intent(message.get(INTENT_RANKING_KEY) or []), f"semantic:{probability:.2f}"

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
