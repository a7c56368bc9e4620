"""The evaluation's figures from lists of expected and predicted intents (bot/ops/evaluation.py), no Rasa."""

from __future__ import annotations

import pytest

from bot.ops import evaluation
from bot.ops.evaluation import (
    accuracy,
    confusion_matrix,
    confusion_pairs,
    intent_figures,
    macro_f1,
    per_intent_scores,
    report_from_predictions,
    share_in,
)

EXPECTED = ["greet", "greet", "greet", "ask_cost", "ask_cost", "out_of_scope"]
PREDICTED = ["greet", "greet", "ask_cost", "ask_cost", "greet", "out_of_scope"]


def test_accuracy_is_the_share_predicted_right():
    assert accuracy(EXPECTED, PREDICTED) == pytest.approx(4 / 6)
    assert accuracy([], []) == 0.0


def test_per_intent_precision_recall_f1_and_support():
    scores = per_intent_scores(EXPECTED, PREDICTED)
    assert list(scores) == ["ask_cost", "greet", "out_of_scope"]
    greet = scores["greet"]
    # greet: 2 of 3 found (recall 2/3); 3 predicted greet, 2 of them right (precision 2/3).
    assert greet["precision"] == pytest.approx(2 / 3)
    assert greet["recall"] == pytest.approx(2 / 3)
    assert greet["f1"] == pytest.approx(2 / 3)
    assert greet["support"] == 3
    cost = scores["ask_cost"]
    assert (cost["precision"], cost["recall"]) == (pytest.approx(1 / 2), pytest.approx(1 / 2))
    assert scores["out_of_scope"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}


def test_an_intent_never_predicted_scores_zero_not_an_error():
    scores = per_intent_scores(["ask_cost", "greet"], ["greet", "greet"])
    assert scores["ask_cost"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert scores["greet"]["precision"] == pytest.approx(0.5)


def test_macro_f1_is_the_mean_over_the_expected_intents():
    scores = per_intent_scores(EXPECTED, PREDICTED)
    assert macro_f1(scores) == pytest.approx((2 / 3 + 1 / 2 + 1.0) / 3)
    # An intent only predicted, never expected, is not averaged in (it lowers another's recall).
    assert set(per_intent_scores(["greet"], ["thank"])) == {"greet"}
    assert macro_f1({}) == 0.0


def test_declining_to_guess_is_right_for_out_of_scope_whichever_component_declined():
    figures = intent_figures(["out_of_scope", "out_of_scope", "greet"],
                             ["nlu_fallback", "out_of_scope", "nlu_fallback"])
    assert figures["accuracy"] == pytest.approx(2 / 3)
    assert figures["per_intent"]["out_of_scope"]["recall"] == 1.0
    assert figures["confusions"] == [{"expected": "greet", "predicted": "out_of_scope", "count": 1}]


def test_confusion_pairs_most_frequent_first_then_by_name():
    expected = ["a", "a", "a", "b", "b", "c"]
    predicted = ["b", "b", "a", "c", "a", "a"]
    assert confusion_pairs(expected, predicted) == [
        {"expected": "a", "predicted": "b", "count": 2},
        {"expected": "b", "predicted": "a", "count": 1},
        {"expected": "b", "predicted": "c", "count": 1},
        {"expected": "c", "predicted": "a", "count": 1},
    ]


def test_confusion_matrix_rows_expected_columns_predicted():
    labels, counts = confusion_matrix(["a", "a", "b"], ["a", "c", "b"])
    assert labels == ["a", "b", "c"]
    assert counts == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    assert sum(map(sum, counts)) == 3


def test_lists_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        accuracy(["a", "b"], ["a"])
    with pytest.raises(ValueError):
        per_intent_scores(["a"], ["a", "b"])


def test_share_in():
    assert share_in(["crisis_self_harm", "greet", "medical_emergency", "greet"], evaluation.SAFETY) == 0.5
    assert share_in([], evaluation.SAFETY) == 0.0


def small_set():
    return {
        "in_scope": [("hi", "greet"), ("price?", "ask_cost")],
        "out_of_scope": [("weather", "out_of_scope"), ("poem", "out_of_scope")],
        "crisis": [("c1", "crisis_self_harm"), ("c2", "medical_emergency"), ("c3", "crisis_self_harm")],
        "hard_negatives": [("killing me, cost?", "ask_cost")],
        "far_domain": ["bake bread", "bleed brakes", "kill the lights"],
    }


def test_the_report_counts_each_file_as_documented():
    predicted = {
        "in_scope": ["greet", "greet"],
        "out_of_scope": ["nlu_fallback", "greet"],
        "crisis": ["crisis_self_harm", "crisis_self_harm", "ask_cost"],
        "hard_negatives": ["medical_emergency"],
        "far_domain": ["out_of_scope", "ask_cost", "crisis_self_harm"],
    }
    report = report_from_predictions(small_set(), predicted)
    # Labelled: greet ok, cost wrong, oos ok (fallback), oos wrong, crisis ok, emergency wrong (exact
    # intent), crisis wrong, hard negative wrong: 3 of 8.
    assert report["accuracy"] == pytest.approx(3 / 8)
    assert report["in_scope_accuracy"] == 0.5
    assert report["oos_recall"] == 0.5
    # Recall counts either safety intent: the emergency called a crisis still gets 988/911.
    assert report["crisis_recall"] == pytest.approx(2 / 3)
    assert report["crisis_missed"] == ["c3"]
    assert report["crisis_false_alarm_rate"] == 1.0
    assert report["far_domain_in_scope_rate"] == pytest.approx(1 / 3)
    assert report["far_domain_crisis"] == 1
    assert report["counts"] == {"in_scope": 2, "out_of_scope": 2, "crisis": 3, "hard_negatives": 1, "far_domain": 3}
    assert sum(s["support"] for s in report["per_intent"].values()) == 8
    assert report["macro_f1"] == pytest.approx(macro_f1(report["per_intent"]))


def test_the_held_out_files_load_as_the_report_expects():
    data = evaluation.load_evaluation_set()
    assert len(data["in_scope"]) == 720 and len(data["out_of_scope"]) == 120
    assert len(data["crisis"]) == 105 and len(data["hard_negatives"]) == 60 and len(data["far_domain"]) == 1000
    assert {intent for _, intent in data["crisis"]} == evaluation.SAFETY
    assert len(evaluation.evaluation_set_fingerprint()) == 12


def test_a_report_is_reused_only_for_the_same_model_schema_and_evaluation_set(tmp_path):
    model = tmp_path / "engage-abc.tar.gz"
    current = {"schema": evaluation.SCHEMA, "model": "engage-abc",
               "evaluation_set": evaluation.evaluation_set_fingerprint()}
    assert evaluation.is_current(current, model)
    assert not evaluation.is_current(None, model)
    assert not evaluation.is_current({**current, "model": "engage-def"}, model)
    assert not evaluation.is_current({**current, "schema": evaluation.SCHEMA + 1}, model)
    assert not evaluation.is_current({**current, "evaluation_set": "0" * 12}, model)


def test_the_charts_are_pngs(tmp_path):
    evaluation.plot_confusion_matrix(EXPECTED, PREDICTED, tmp_path / "m.confusion.png", "m")
    evaluation.plot_f1(per_intent_scores(EXPECTED, PREDICTED), tmp_path / "m.f1.png", "m")
    for name in ("m.confusion.png", "m.f1.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
