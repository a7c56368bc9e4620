"""The semantic crisis layer's training-time threshold and its decisions."""

from __future__ import annotations

import numpy as np

from bot.rasa_plugins.semantic_crisis import recall_threshold, semantic_match, which_safety_intent


def test_the_threshold_keeps_the_asked_recall_of_what_the_rules_miss():
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1])
    is_safety = np.array([True, True, True, True, False, False])
    nothing = np.zeros(6, dtype=bool)
    assert recall_threshold(scores, is_safety, nothing, 1.0) == 0.2
    assert recall_threshold(scores, is_safety, nothing, 0.75) == 0.7
    # The rules catch the hardest one: the recall is asked of the other three.
    rules = np.array([False, False, False, True, False, False])
    assert recall_threshold(scores, is_safety, rules, 1.0) == 0.7
    assert recall_threshold(scores, is_safety, rules, 0.6) == 0.8
    # The rules catching more does not make the layer less sensitive to what they still miss.
    more_rules = np.array([True, False, False, True, False, False])
    assert recall_threshold(scores, is_safety, more_rules, 1.0) == 0.7
    # A recall of 0 still fires on the likeliest example the rules miss.
    assert recall_threshold(scores, is_safety, rules, 0.0) == 0.9
    # If the rules catch every example, the semantic layer need not fire at all.
    assert recall_threshold(scores, is_safety, is_safety, 1.0) == 1.0


def test_the_layer_fires_at_its_threshold_and_names_the_likelier_kind():
    ranking = [{"name": "ask_dosage"}, {"name": "medical_emergency"}, {"name": "crisis_self_harm"}]
    assert semantic_match({"probability": 0.5, "threshold": 0.5}, ranking) == "medical_emergency"
    assert semantic_match({"probability": 0.49, "threshold": 0.5}, ranking) is None
    assert semantic_match(None, ranking) is None


def test_the_kind_of_crisis_follows_the_intent_ranking():
    assert which_safety_intent([{"name": "ask_iop"}, {"name": "medical_emergency"},
                                {"name": "crisis_self_harm"}]) == "medical_emergency"
    assert which_safety_intent([{"name": "ask_iop"}]) == "crisis_self_harm"
