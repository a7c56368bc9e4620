"""Intent classifier: TF-IDF n-grams and sentence embeddings into one logistic regression.

The TF-IDF word and character n-grams read the raw text, so typos ("withdrawl", "kratum") still share
features with the right words; the pretrained sentence embeddings (SentenceEmbeddingFeaturizer) carry
phrasings nobody here wrote. Chosen by cross-validation and by the independent held-out set
(docs/nlu.md). A message far from every in-scope training example is out of scope whatever the
regression says: `min_in_scope_similarity` is learned from the training data at training time.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from joblib import Parallel, delayed
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, make_union

from bot.domain.safety.detector import default_detector
from bot.rasa_plugins.embedding_featurizer import SentenceEmbeddingFeaturizer, sentence_embedding
from bot.rasa_plugins.semantic_crisis import SAFETY_INTENTS, SEMANTIC_CRISIS, recall_threshold

MODEL_FILE = "intent_classifier.skops"
IN_SCOPE_FILE = "in_scope_embeddings.npy"
THRESHOLD_FILE = "thresholds.json"
# skops refuses to load any type not on this list, so a tampered model file cannot run code.
TRUSTED_EXTRA_TYPES = ["scipy.sparse._csr.csr_matrix"]
OUT_OF_SCOPE = "out_of_scope"
# Intents that the similarity test never overrides: the safety layer decides those.
NEVER_OVERRIDDEN = set(SAFETY_INTENTS)
SAFETY_FOLDS = 3


class UntrustedModelFile(RuntimeError):
    """The stored classifier contains types that could run code when loaded."""


class MissingEmbeddings(ValueError):
    """The pipeline has no SentenceEmbeddingFeaturizer before the classifier."""


def text_features(word_ngrams: tuple, char_ngrams: tuple) -> FeatureUnion:
    return make_union(
        TfidfVectorizer(ngram_range=word_ngrams, sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=char_ngrams, sublinear_tf=True),
    )


def fit_model(texts: List[str], embeddings: np.ndarray, intents: List[str],
              config: Dict[Text, Any]) -> Tuple[FeatureUnion, LogisticRegression]:
    features = text_features(tuple(config["word_ngrams"]), tuple(config["char_ngrams"])).fit(texts)
    classifier = LogisticRegression(C=config["C"], class_weight="balanced", max_iter=3000,
                                    random_state=config["random_seed"])
    return features, classifier.fit(feature_matrix(features, texts, embeddings, config["embedding_weight"]), intents)


def feature_matrix(features: FeatureUnion, texts: List[str], embeddings: np.ndarray,
                   embedding_weight: float) -> sparse.csr_matrix:
    blocks = [features.transform(texts)]
    if embedding_weight:
        blocks.append(sparse.csr_matrix(embeddings * float(embedding_weight)))
    return sparse.hstack(blocks, format="csr")


def column_ordered(classifier: LogisticRegression) -> LogisticRegression:
    """predict_proba multiplies by coef_.T: with coef_ stored row by row, scipy copied all 40 x 34k
    weights into column order on every message (~1.7 ms). Stored column by column, coef_.T is free."""
    classifier.coef_ = np.asfortranarray(classifier.coef_)
    return classifier


def safety_mass(classifier: LogisticRegression, probabilities: np.ndarray) -> np.ndarray:
    """P(crisis_self_harm) + P(medical_emergency) for each row."""
    columns = [list(classifier.classes_).index(name) for name in SAFETY_INTENTS if name in classifier.classes_]
    return probabilities[:, columns].sum(axis=1)


def _held_out_safety(texts: List[str], embeddings: np.ndarray, intents: List[str], train: np.ndarray,
                     test: np.ndarray, config: Dict[Text, Any]) -> np.ndarray:
    features, classifier = fit_model([texts[i] for i in train], embeddings[train], [intents[i] for i in train],
                                     config)
    matrix = feature_matrix(features, [texts[i] for i in test], embeddings[test], config["embedding_weight"])
    return safety_mass(classifier, classifier.predict_proba(matrix))


def out_of_fold_safety(texts: List[str], embeddings: np.ndarray, intents: List[str],
                       config: Dict[Text, Any]) -> np.ndarray:
    """Each example's safety mass from a model that did not see it (SAFETY_FOLDS folds, one per core)."""
    folds = list(StratifiedKFold(SAFETY_FOLDS, shuffle=True, random_state=config["random_seed"]).split(
        texts, np.isin(intents, SAFETY_INTENTS)))
    masses = Parallel(n_jobs=2)(delayed(_held_out_safety)(texts, embeddings, intents, train, test, config)
                                for train, test in folds)
    result = np.zeros(len(texts))
    for (_, test), mass in zip(folds, masses, strict=True):
        result[test] = mass
    return result


def similarity_floor(embeddings: np.ndarray, intents: List[str], quantile: float) -> float:
    """The similarity below which a message is out of scope: the `quantile` of each in-scope training
    example's similarity to its nearest other in-scope example (leave-one-out, so an example does not
    vouch for itself); out-of-scope examples do not take part."""
    in_scope = embeddings[[intent != OUT_OF_SCOPE for intent in intents]]
    if len(in_scope) < 2:
        return 0.0
    similarities = in_scope @ in_scope.T
    np.fill_diagonal(similarities, -1.0)
    return float(np.quantile(similarities.max(axis=1), quantile))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfEmbeddingIntentClassifier(GraphComponent, IntentClassifier):
    @classmethod
    def required_components(cls) -> List[type]:
        return [SentenceEmbeddingFeaturizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 30.0, "word_ngrams": [1, 2], "char_ngrams": [2, 5],
            # Scale of the embedding block beside the TF-IDF blocks; 0 leaves the TF-IDF classifier alone.
            "embedding_weight": 1.0,
            # Which share of in-scope training examples may sit below the out-of-scope floor; 0 turns it off.
            "in_scope_floor_quantile": 0.0,
            # The semantic crisis layer: the share of the crisis and emergency training examples the
            # rules miss that the safety mass must catch out of fold; 0 turns the layer off.
            "crisis_recall": 0.0,
            "ranking_length": 10, "random_seed": 7,
        }

    def __init__(
        self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
        features: Optional[FeatureUnion] = None, classifier: Optional[LogisticRegression] = None,
        in_scope: Optional[np.ndarray] = None, floor: float = 0.0, crisis_threshold: float = 1.0,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._features = features
        self._classifier = column_ordered(classifier) if classifier is not None else None
        self._in_scope = in_scope
        self._floor = floor
        self._crisis_threshold = crisis_threshold

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TfidfEmbeddingIntentClassifier":
        return cls(config, model_storage, resource)

    def _embeddings(self, messages: List[Message]) -> np.ndarray:
        rows = [sentence_embedding(message) for message in messages]
        if any(row is None for row in rows):
            raise MissingEmbeddings("TfidfEmbeddingIntentClassifier needs SentenceEmbeddingFeaturizer before it")
        return np.stack([row for row in rows if row is not None]).astype(np.float32)

    def _matrix(self, texts: List[str], embeddings: np.ndarray) -> sparse.csr_matrix:
        assert self._features is not None
        return feature_matrix(self._features, texts, embeddings, self._config["embedding_weight"])

    def _learn_crisis_threshold(self, texts: List[str], embeddings: np.ndarray, intents: List[str]) -> float:
        """The semantic crisis layer's threshold on the safety mass (semantic_crisis.py); 1.0 is off."""
        recall = float(self._config["crisis_recall"])
        is_safety = np.isin(intents, SAFETY_INTENTS)
        if not recall or min(int(is_safety.sum()), int((~is_safety).sum())) < SAFETY_FOLDS:
            return 1.0
        caught_by_rules = np.array([default_detector().detect(text) is not None for text in texts])
        return recall_threshold(out_of_fold_safety(texts, embeddings, intents, self._config), is_safety,
                                caught_by_rules, recall)

    def train(self, training_data: TrainingData) -> Resource:
        import skops.io as sio

        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        if not examples:
            return self._resource
        texts, intents = [e.get(TEXT) for e in examples], [e.get(INTENT) for e in examples]
        embeddings = self._embeddings(examples)
        self._features, classifier = fit_model(texts, embeddings, intents, self._config)
        self._classifier = column_ordered(classifier)
        quantile = float(self._config["in_scope_floor_quantile"])
        self._in_scope = embeddings[[intent != OUT_OF_SCOPE for intent in intents]]
        self._floor = similarity_floor(embeddings, intents, quantile) if quantile else 0.0
        self._crisis_threshold = self._learn_crisis_threshold(texts, embeddings, intents)
        with self._storage.write_to(self._resource) as directory:
            sio.dump({"features": self._features, "classifier": self._classifier}, directory / MODEL_FILE)
            np.save(directory / IN_SCOPE_FILE, self._in_scope)
            (directory / THRESHOLD_FILE).write_text(json.dumps(
                {"min_in_scope_similarity": self._floor, "crisis_threshold": self._crisis_threshold}))
        return self._resource

    @classmethod
    def load(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext, **kwargs: Any,
    ) -> "TfidfEmbeddingIntentClassifier":
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / MODEL_FILE
                if not path.exists():
                    return cls(config, model_storage, resource)
                untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_EXTRA_TYPES)
                if untrusted:
                    raise UntrustedModelFile(f"refusing to load {path}: unexpected types {sorted(untrusted)}")
                parts = sio.load(path, trusted=TRUSTED_EXTRA_TYPES)
                in_scope = np.load(directory / IN_SCOPE_FILE, allow_pickle=False)
                thresholds = json.loads((directory / THRESHOLD_FILE).read_text())
        except ValueError:
            # Rasa's "resource does not exist": a model trained without NLU data predicts nothing.
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, parts["features"], parts["classifier"], in_scope,
                   thresholds["min_in_scope_similarity"], thresholds["crisis_threshold"])

    def process(self, messages: List[Message]) -> List[Message]:
        if self._classifier is None or not messages:
            return messages
        texts = [message.get(TEXT) or "" for message in messages]
        embeddings = self._embeddings(messages)
        probabilities = self._classifier.predict_proba(self._matrix(texts, embeddings))
        safety = safety_mass(self._classifier, probabilities)
        classes = [str(name) for name in self._classifier.classes_]
        nearest = (embeddings @ self._in_scope.T).max(axis=1) if self._in_scope is not None and len(
            self._in_scope) else np.ones(len(messages))
        for message, row, similarity, embedding, mass in zip(messages, probabilities, nearest, embeddings, safety,
                                                             strict=True):
            # A blank embedding means nothing readable: no intent is likelier than another, there is no
            # distance to compare, and the fallback explains why.
            readable = bool(np.any(embedding))
            if not readable:
                row = np.full_like(row, 1.0 / len(row))
            order = np.argsort(-row)[: self._config["ranking_length"]]
            ranking = [{"name": classes[i], "confidence": float(row[i])} for i in order]
            if readable and similarity < self._floor and ranking[0]["name"] not in NEVER_OVERRIDDEN | {OUT_OF_SCOPE}:
                # Far from everything the bot answers: say so rather than guess.
                others = [item for item in ranking if item["name"] != OUT_OF_SCOPE]
                ranking = [{"name": OUT_OF_SCOPE, "confidence": 1.0}, *others]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            message.set("in_scope_similarity", float(similarity), add_to_output=True)
            if readable:
                message.set(SEMANTIC_CRISIS, {"probability": float(mass), "threshold": self._crisis_threshold},
                            add_to_output=True)
        return messages
