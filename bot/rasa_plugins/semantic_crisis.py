"""The second crisis layer: the intent classifier's probability on the two safety intents together,
OR-ed with the rule patterns.

The classifier (TF-IDF n-grams and the sentence embedding, over every training intent) is trained on
the crisis and emergency examples beside every other one, the hard negatives included (figures of
speech, relapse reports, plain tapering questions), so "kill the lights" has its own neighbours among
the far-domain examples. On a match the crisis answer wins over whatever intent came first. The
threshold is chosen at training time for recall, from out-of-fold probabilities on the training data
alone: the highest one at which this layer still catches `crisis_recall` of the crisis and emergency
examples that the rules miss. Asking it of those alone keeps the layer's sensitivity from falling
as the rules catch more (a recall over all examples let it relax whenever a rule was added).
Measured on our training data (docs/nlu.md), this beat a separate binary model and nearest
neighbours on false alarms at the same recall.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

SAFETY_INTENTS = ("crisis_self_harm", "medical_emergency")
# The parse result's field with {probability, threshold}, set by the intent classifier.
SEMANTIC_CRISIS = "semantic_crisis"


def recall_threshold(probabilities: np.ndarray, is_safety: np.ndarray, caught_anyway: np.ndarray,
                     recall: float) -> float:
    """The largest threshold on P(crisis or emergency) at or above which `recall` of the safety
    examples the rules miss (`is_safety` and not `caught_anyway`) lie; 1.0 when the rules miss none."""
    left = np.sort(probabilities[is_safety & ~caught_anyway])
    if len(left) == 0:
        return 1.0
    allowed_misses = int(np.floor((1.0 - recall) * len(left)))
    return float(left[min(allowed_misses, len(left) - 1)])


def semantic_match(parsed: Optional[Dict[str, Any]], ranking: List[Dict[str, Any]]) -> Optional[str]:
    """The safety intent to force when the safety mass reaches its threshold, else None."""
    if not parsed or parsed["probability"] < parsed["threshold"]:
        return None
    return which_safety_intent(ranking)


def which_safety_intent(ranking: List[Dict[str, Any]]) -> str:
    """The safety intent the intent classifier ranks higher; a crisis when it ranks neither
    (the crisis answer gives 911 as well as 988)."""
    for item in ranking:
        if item.get("name") in SAFETY_INTENTS:
            return str(item["name"])
    return SAFETY_INTENTS[0]
