"""The regression gate's verdicts (bot/ops/gate.py): pure, on hand-made reports."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from bot.ops.gate import judge
from bot.settings import Settings

MARGIN = 0.02


def report(model: str = "engage-candidate", accuracy: float = 0.95, macro_f1: float = 0.95,
           crisis_recall: float = 1.0, **per_intent_f1: float) -> Dict[str, Any]:
    f1 = {"greet": 0.9, "ask_cost": 0.9, **per_intent_f1}
    return {
        "model": model, "accuracy": accuracy, "macro_f1": macro_f1, "crisis_recall": crisis_recall,
        "in_scope_accuracy": accuracy, "oos_recall": 0.9, "crisis_false_alarm_rate": 0.05,
        "crisis_missed": [] if crisis_recall == 1.0 else ["one missed"],
        "per_intent": {name: {"precision": v, "recall": v, "f1": v, "support": 20} for name, v in f1.items()},
        "stories": {"total": 32, "passed": 32, "failed": 0, "failed_stories": [], "action_accuracy": 1.0},
    }


LIVE = report("engage-live")


def verdict(candidate, live=LIVE, force=False):
    return judge(candidate, live, MARGIN, MARGIN, force=force)


def test_the_margins_come_from_settings():
    defaults = Settings.__fields__
    assert defaults["gate_max_accuracy_drop"].default == MARGIN
    assert defaults["gate_max_macro_f1_drop"].default == MARGIN


def test_an_equal_model_passes():
    result = verdict(report())
    assert result.passed and result.reasons == [] and result.worse_intents == []
    assert result.compared_with == "engage-live"


def test_crisis_recall_below_one_is_refused_even_when_everything_else_improved():
    result = verdict(report(accuracy=0.99, macro_f1=0.99, crisis_recall=0.99))
    assert not result.passed
    assert len(result.reasons) == 1 and "crisis recall 0.990" in result.reasons[0]


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1"])
def test_a_drop_just_over_the_margin_is_refused(metric):
    result = verdict(report(**{metric: 0.95 - MARGIN - 0.0001}))
    assert not result.passed
    assert len(result.reasons) == 1 and "fell by 0.020" in result.reasons[0]


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1"])
def test_a_drop_just_under_the_margin_passes(metric):
    assert verdict(report(**{metric: 0.95 - MARGIN + 0.0001})).passed


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1"])
def test_a_drop_of_exactly_the_margin_passes(metric):
    # 0.95 - 0.93 is 0.0200000000000000018 in floating point.
    assert verdict(report(**{metric: 0.93})).passed


def test_both_drops_are_reported():
    result = verdict(report(accuracy=0.80, macro_f1=0.70, crisis_recall=0.9))
    assert len(result.reasons) == 3
    assert "intent accuracy fell by 0.150 (0.950 -> 0.800)" in result.reasons[1]
    assert "macro-F1 fell by 0.250" in result.reasons[2]


def test_with_no_live_model_only_crisis_recall_counts():
    assert judge(report(accuracy=0.10, macro_f1=0.10), None, MARGIN, MARGIN).passed
    refused = judge(report(crisis_recall=0.99), None, MARGIN, MARGIN)
    assert not refused.passed and refused.compared_with is None and refused.worse_intents == []
    assert "no model was made live yet" in refused.table()


def test_worse_intents_list_both_f1_values_the_largest_fall_first():
    result = verdict(report(greet=0.5, ask_cost=0.85, thank=1.0), live=report("engage-live", thank=0.7))
    assert [(w.intent, w.live_f1, w.candidate_f1) for w in result.worse_intents] == [
        ("greet", 0.9, 0.5), ("ask_cost", 0.9, 0.85)]
    # Worse intents alone are listed, not refused: the gate is on the overall figures.
    assert result.passed


def test_the_comparison_table_shows_live_candidate_and_change():
    table = verdict(report(accuracy=0.90, greet=0.5)).table()
    assert "engage-live" in table and "engage-candidate" in table
    line = next(row for row in table.splitlines() if row.strip().startswith("intent accuracy"))
    assert line.split()[-3:] == ["0.950", "0.900", "-0.050"]
    assert "test stories passed" in table
    assert "greet" in table.split("intents whose F1 got worse")[1]


def test_forcing_keeps_the_verdict_and_records_the_override():
    result = verdict(report(accuracy=0.5), force=True)
    record = result.record()
    assert record["passed"] is False and record["forced"] is True
    assert record["compared_with"] == "engage-live" and record["reasons"]
    assert record["worse_intents"] == []
    assert record["margins"]["accuracy"] == MARGIN


def test_forcing_a_model_that_passes_overrides_nothing():
    assert verdict(report(), force=True).record()["forced"] is False


def test_the_record_lists_worse_intents_with_both_values():
    record = verdict(report(greet=0.6)).record()
    assert record["worse_intents"] == [{"intent": "greet", "live_f1": 0.9, "candidate_f1": 0.6}]
