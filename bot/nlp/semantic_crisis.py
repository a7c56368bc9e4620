"""The second crisis layer: a classifier on the sentence embedding (and TF-IDF n-grams), OR-ed with
the rule patterns.

A logistic regression over every training intent (so "kill the lights" has its own neighbours among
the far-domain examples, and "this withdrawal is killing me" among the withdrawal questions); what
counts is the probability it gives the two safety intents together. Its threshold is chosen at
training time for recall, from out-of-fold probabilities on the training data alone: the highest
threshold at which the two layers together still catch `recall` of the crisis and emergency
examples in 5-fold cross-validation. Measured on our training data (docs/nlu.md), this beat a
binary crisis-or-not model and nearest neighbours on false alarms at the same recall.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion

from bot.nlp.intent_classifier import text_features as ngram_features

SAFETY_INTENTS = ("crisis_self_harm", "medical_emergency")
FOLDS = 5


def text_features() -> FeatureUnion:
    return ngram_features((1, 2), (2, 5))


def recall_threshold(probabilities: np.ndarray, is_safety: np.ndarray, caught_anyway: np.ndarray,
                     recall: float) -> float:
    """The largest threshold on P(crisis or emergency) at which the safety examples the rules catch
    (`caught_anyway`) plus those at or above the threshold make up `recall` of all safety examples."""
    total = int(is_safety.sum())
    if total == 0:
        return 1.0
    left = np.sort(probabilities[is_safety & ~caught_anyway])
    allowed_misses = int(np.floor((1.0 - recall) * total))
    if allowed_misses >= len(left):
        return 1.0
    return float(left[allowed_misses])


def _classifier(c: float, seed: int) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)


def _matrix(features: FeatureUnion, texts: Sequence[str], embeddings: np.ndarray) -> sparse.csr_matrix:
    return sparse.hstack([features.transform(list(texts)), sparse.csr_matrix(embeddings)], format="csr")


def _fit(texts: List[str], embeddings: np.ndarray, intents: List[str], c: float,
         seed: int) -> "SemanticCrisisModel":
    features = text_features().fit(texts)
    return SemanticCrisisModel(features, _classifier(c, seed).fit(_matrix(features, texts, embeddings), intents), 1.0)


def _held_out_probabilities(texts: List[str], embeddings: np.ndarray, intents: List[str], train: np.ndarray,
                            test: np.ndarray, c: float, seed: int) -> np.ndarray:
    fold = _fit([texts[i] for i in train], embeddings[train], [intents[i] for i in train], c, seed)
    return fold.probabilities([texts[i] for i in test], embeddings[test])


class SemanticCrisisModel:
    def __init__(self, features: FeatureUnion, classifier: LogisticRegression, threshold: float) -> None:
        self.features = features
        self.classifier = classifier
        self.threshold = threshold
        self._safety_columns = [list(classifier.classes_).index(name) for name in SAFETY_INTENTS
                                if name in classifier.classes_]

    @classmethod
    def train(cls, texts: List[str], embeddings: np.ndarray, intents: List[str], caught_by_rules: np.ndarray,
              c: float, recall: float, seed: int) -> Optional["SemanticCrisisModel"]:
        is_safety = np.isin(intents, SAFETY_INTENTS)
        if min(int(is_safety.sum()), int((~is_safety).sum())) < FOLDS:
            return None
        folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(texts, is_safety))
        # One fold per core: this is most of the training time.
        probabilities = Parallel(n_jobs=2)(
            delayed(_held_out_probabilities)(texts, embeddings, intents, train, test, c, seed) for train, test in folds)
        out_of_fold = np.zeros(len(texts))
        for (_, test), fold_probabilities in zip(folds, probabilities, strict=True):
            out_of_fold[test] = fold_probabilities
        model = _fit(texts, embeddings, intents, c, seed)
        model.threshold = recall_threshold(out_of_fold, is_safety, caught_by_rules, recall)
        return model

    def probabilities(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """P(crisis or emergency) for each message."""
        rows = self.classifier.predict_proba(_matrix(self.features, texts, embeddings))
        return rows[:, self._safety_columns].sum(axis=1)

    def probability(self, text: str, embedding: np.ndarray) -> float:
        return float(self.probabilities([text], embedding.reshape(1, -1))[0])

    def is_crisis(self, text: str, embedding: np.ndarray) -> bool:
        return self.probability(text, embedding) >= self.threshold

    def parts(self) -> Dict[str, Any]:
        return {"features": self.features, "classifier": self.classifier}


def which_safety_intent(ranking: List[Dict[str, Any]]) -> str:
    """The safety intent the intent classifier ranks higher; a crisis when it ranks neither
    (the crisis answer gives 911 as well as 988)."""
    for item in ranking:
        if item.get("name") in SAFETY_INTENTS:
            return str(item["name"])
    return SAFETY_INTENTS[0]
