"""The regression gate: may a newly trained model replace the live one?

Compares two evaluation reports (bot/ops/evaluation.py) on the same evaluation set. A candidate is
refused when its crisis recall is below 1.0 (every crisis.yml message must get a crisis intent), or
its intent accuracy or macro-F1 is lower than the live model's by more than the margin
(settings.gate_max_accuracy_drop, settings.gate_max_macro_f1_drop). With no live model only the
crisis recall is checked. Pure: no files, no Rasa.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

CRISIS_RECALL_REQUIRED = 1.0
# Figures are ratios of a few hundred messages; rounding keeps a drop of exactly the margin (0.95 -
# 0.93 = 0.0200000000000000018) from counting as over it.
PRECISION = 9
# (key, label): the rows of the comparison table; judge() says which of them it gates on.
COMPARED = (
    ("accuracy", "intent accuracy"),
    ("macro_f1", "macro-F1"),
    ("crisis_recall", "crisis recall"),
    ("in_scope_accuracy", "in-scope accuracy"),
    ("oos_recall", "out-of-scope recall"),
    ("crisis_false_alarm_rate", "crisis false alarms"),
)


@dataclass(frozen=True)
class Row:
    metric: str
    live: Optional[float]
    candidate: float
    whole: bool = False  # a count, not a ratio

    @property
    def change(self) -> Optional[float]:
        return None if self.live is None else self.candidate - self.live


@dataclass(frozen=True)
class WorseIntent:
    intent: str
    live_f1: float
    candidate_f1: float


@dataclass
class Verdict:
    candidate: str
    compared_with: Optional[str]
    reasons: List[str]
    rows: List[Row]
    worse_intents: List[WorseIntent]
    forced: bool = False
    margins: Dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.reasons

    def record(self) -> Dict[str, Any]:
        """What the candidate's evaluation file keeps under `gate`."""
        return {
            "passed": self.passed,
            "forced": self.forced,
            "compared_with": self.compared_with,
            "reasons": list(self.reasons),
            "worse_intents": [{"intent": w.intent, "live_f1": w.live_f1, "candidate_f1": w.candidate_f1}
                              for w in self.worse_intents],
            "margins": dict(self.margins),
        }

    def table(self) -> str:
        lines = [f"  live: {self.compared_with or '(no model was made live yet)'}    candidate: {self.candidate}",
                 f"  {'metric':<22} {'live':>8} {'candidate':>10} {'change':>8}"]
        for row in self.rows:
            lines.append(f"  {row.metric:<22} {_figure(row.live, row.whole):>8} "
                         f"{_figure(row.candidate, row.whole):>10} {_change(row.change, row.whole):>8}")
        if self.worse_intents:
            lines += ["", f"  intents whose F1 got worse ({len(self.worse_intents)}):",
                      f"  {'intent':<26} {'live':>6} {'candidate':>10} {'change':>8}"]
            lines += [f"  {w.intent:<26} {w.live_f1:6.3f} {w.candidate_f1:10.3f} "
                      f"{_change(w.candidate_f1 - w.live_f1):>8}" for w in self.worse_intents]
        return "\n".join(lines)


def _figure(value: Optional[float], whole: bool = False) -> str:
    return "-" if value is None else f"{value:.0f}" if whole else f"{value:.3f}"


def _change(value: Optional[float], whole: bool = False) -> str:
    return "-" if value is None else f"{value:+.0f}" if whole else f"{value:+.3f}"


def _drop(live: Dict[str, Any], candidate: Dict[str, Any], key: str) -> float:
    return round(float(live[key]) - float(candidate[key]), PRECISION)


def worse_intents(candidate: Dict[str, Any], live: Dict[str, Any]) -> List[WorseIntent]:
    """Intents of both reports whose F1 fell, the largest fall first."""
    ours, theirs = candidate.get("per_intent", {}), live.get("per_intent", {})
    worse = [WorseIntent(name, float(theirs[name]["f1"]), float(ours[name]["f1"]))
             for name in sorted(set(ours) & set(theirs))
             if round(float(ours[name]["f1"]) - float(theirs[name]["f1"]), PRECISION) < 0]
    return sorted(worse, key=lambda w: (w.candidate_f1 - w.live_f1, w.intent))


def judge(candidate: Dict[str, Any], live: Optional[Dict[str, Any]], max_accuracy_drop: float,
          max_macro_f1_drop: float, force: bool = False) -> Verdict:
    """The gate's verdict on `candidate` against `live` (None: no model was made live yet).
    `force` changes nothing but the record: the verdict stays, and says it was overridden."""
    reasons: List[str] = []
    crisis = round(float(candidate["crisis_recall"]), PRECISION)
    if crisis < CRISIS_RECALL_REQUIRED:
        missed = len(candidate.get("crisis_missed", []))
        reasons.append(f"crisis recall {crisis:.3f} is below {CRISIS_RECALL_REQUIRED:.1f}"
                       + (f" ({missed} of the crisis messages got no crisis intent)" if missed else ""))
    if live is not None:
        for key, label, margin in (("accuracy", "intent accuracy", max_accuracy_drop),
                                   ("macro_f1", "macro-F1", max_macro_f1_drop)):
            drop = _drop(live, candidate, key)
            if drop > margin:
                reasons.append(f"{label} fell by {drop:.3f} ({float(live[key]):.3f} -> "
                               f"{float(candidate[key]):.3f}), more than the {margin:.3f} allowed")
    rows = [Row(label, None if live is None else float(live[key]), float(candidate[key]))
            for key, label in COMPARED if key in candidate and (live is None or key in live)]
    stories = candidate.get("stories")
    if stories:
        live_stories = (live or {}).get("stories")
        rows.append(Row("test stories passed", None if not live_stories else float(live_stories["passed"]),
                        float(stories["passed"]), whole=True))
    return Verdict(
        candidate=str(candidate.get("model")),
        compared_with=None if live is None else str(live.get("model")),
        reasons=reasons,
        rows=rows,
        worse_intents=[] if live is None else worse_intents(candidate, live),
        forced=force and bool(reasons),
        margins={"accuracy": max_accuracy_drop, "macro_f1": max_macro_f1_drop,
                 "crisis_recall_required": CRISIS_RECALL_REQUIRED},
    )
