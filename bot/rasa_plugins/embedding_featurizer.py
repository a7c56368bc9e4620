"""Rasa component: the sentence encoder's embedding of each message, as dense sentence features."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_plugins.sentence_encoder import SentenceEncoder, shared
from bot.settings import REPO_ROOT

ORIGIN = "SentenceEmbeddingFeaturizer"
LATIN_LETTER = re.compile("[A-Za-z]")


def sentence_embedding(message: Message) -> Optional[np.ndarray]:
    """The message's embedding from this featurizer, or None if it has none."""
    _, sentence = message.get_dense_features(TEXT, [ORIGIN])
    return None if sentence is None else np.asarray(sentence.features).reshape(-1)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"model_dir": "build/encoder"}

    def __init__(self, encoder: SentenceEncoder) -> None:
        self._encoder = encoder

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        directory = Path({**cls.get_default_config(), **config}["model_dir"])
        return cls(shared(directory if directory.is_absolute() else REPO_ROOT / directory))

    def _add(self, messages: List[Message]) -> None:
        # Every message gets one, so the classifiers after this never go without. Text with no Latin
        # letter (empty, emoji, another script) means nothing to this English encoder: it gets zeros,
        # and the classifier's low confidence sends it to the fallback that explains what went wrong.
        texts = [message.get(TEXT) or "" for message in messages]
        readable = [text for text in texts if LATIN_LETTER.search(text)]
        encoded = dict(zip(readable, self._encoder.encode(readable), strict=True))
        blank = np.zeros(self._encoder.dimensions, dtype=np.float32)
        vectors = [encoded.get(text, blank) for text in texts]
        for message, vector in zip(messages, vectors, strict=True):
            message.add_features(Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, ORIGIN))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._add(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._add(messages)
        return messages
