"""The semantic crisis layer's training-time threshold and its decisions."""

from __future__ import annotations

import numpy as np

from bot.nlp.semantic_crisis import SemanticCrisisModel, recall_threshold, which_safety_intent


def test_the_threshold_keeps_the_asked_recall_counting_what_the_rules_catch():
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1])
    is_safety = np.array([True, True, True, True, False, False])
    nothing = np.zeros(6, dtype=bool)
    assert recall_threshold(scores, is_safety, nothing, 1.0) == 0.2
    assert recall_threshold(scores, is_safety, nothing, 0.75) == 0.7
    # The rules catch the hardest one, so the threshold can rise without losing recall.
    rules = np.array([False, False, False, True, False, False])
    assert recall_threshold(scores, is_safety, rules, 1.0) == 0.7
    # If the rules alone reach the recall, the semantic layer need not fire at all.
    assert recall_threshold(scores, is_safety, is_safety, 1.0) == 1.0


def clusters(seed: int = 3):
    """Well-separated groups of unit vectors: crisis, emergency, two others. The texts are the same in
    every group, so only the embedding can tell them apart."""
    random = np.random.default_rng(seed)
    groups = ["crisis_self_harm", "medical_emergency", "ask_iop", "out_of_scope"]
    points, texts, intents = [], [], []
    for axis, intent in enumerate(groups):
        for number in range(25):
            vector = np.eye(8)[axis] + random.normal(0, 0.15, 8)
            points.append(vector / np.linalg.norm(vector))
            texts.append(f"message {number}")
            intents.append(intent)
    return texts, np.array(points), intents


def test_it_finds_a_crisis_by_meaning_and_leaves_the_rest():
    texts, points, intents = clusters()
    model = SemanticCrisisModel.train(texts, points, intents, np.zeros(len(texts), dtype=bool), c=10.0,
                                      recall=0.99, seed=7)
    assert model is not None and 0 < model.threshold < 1
    assert model.is_crisis("something new", np.eye(8)[0])
    assert model.is_crisis("something new", np.eye(8)[1])
    assert not model.is_crisis("something new", np.eye(8)[2])
    assert not model.is_crisis("something new", np.eye(8)[3])


def test_without_enough_examples_there_is_no_semantic_layer():
    texts, points, intents = clusters()
    assert SemanticCrisisModel.train(texts[:3], points[:3], ["crisis_self_harm", "ask_iop", "ask_iop"],
                                     np.zeros(3, dtype=bool), 10.0, 0.99, 7) is None


def test_the_kind_of_crisis_follows_the_intent_ranking():
    assert which_safety_intent([{"name": "ask_iop"}, {"name": "medical_emergency"},
                                {"name": "crisis_self_harm"}]) == "medical_emergency"
    assert which_safety_intent([{"name": "ask_iop"}]) == "crisis_self_harm"
