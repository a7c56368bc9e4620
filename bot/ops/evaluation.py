"""Scores a trained model in-process on the evaluation set kept out of training.

The model is loaded once with Rasa's Agent (no server) and parses every message of
`tests/data/heldout/` (see its README: written blind, never used for training or thresholds); the
multi-turn paths of `tests/test_stories.yml` run through Rasa's own core test machinery, as
`rasa test core` does (each story's intents given, its actions predicted). The pipeline's
CrisisOverride runs in-process, so crisis recall is the model's own crisis layers, without the
gateway's safety net. Deterministic given the model: the same model gives the same figures.

`engage-<hash>.evaluation.json`, beside the model (`model_registry.write_evaluation`):

- `schema` (int), `model` (the model's name), `data_fingerprint` (the training data's hash in the
  model name, or null), `evaluation_set` (hash of the evaluation files: a report on another set is
  not reused), `evaluated_at` (ISO 8601, UTC), `duration_seconds` (load and scoring);
- `accuracy`, `macro_f1`: over the labelled messages (in_scope.yml, out_of_scope.yml, crisis.yml,
  hard_negatives.yml), each with its intent; `nlu_fallback` counts as `out_of_scope`, so an
  out-of-scope message is right when it is predicted out_of_scope or nlu_fallback. Macro-F1 is the
  mean F1 of the intents the set has (an intent never expected but predicted only costs recall);
- `in_scope_accuracy` (in_scope.yml alone), `oos_recall` (out_of_scope.yml predicted out_of_scope
  or nlu_fallback), `crisis_recall` (crisis.yml predicted crisis_self_harm or medical_emergency),
  `crisis_false_alarm_rate` (hard_negatives.yml predicted as one of those), `far_domain_in_scope_rate`
  and `far_domain_crisis` (far_domain.txt answered as an admissions question; given a crisis intent);
- `per_intent`: {intent: {precision, recall, f1, support}}; `confusions`: [{expected, predicted,
  count}], most frequent first; `crisis_missed`: the crisis.yml messages no crisis layer caught;
- `counts`: messages per file; `stories`: {total, passed, failed, failed_stories, action_accuracy};
- `gate`: added by `python -m bot train` (bot/ops/training.py): {passed, forced, compared_with,
  reasons, worse_intents}.

Beside it, `<name>.confusion.png` (confusion matrix of the intents) and `<name>.f1.png` (per-intent
F1, sorted). `python -m bot evaluate [MODEL]`, `make evaluate [MODEL=...]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import os
import time
import warnings
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import yaml

from bot.domain import model_registry
from bot.domain.safety.patterns_file import INTENTS as CRISIS_INTENTS
from bot.ops.gate import CRISIS_RECALL_REQUIRED
from bot.settings import REPO_ROOT

SCHEMA = 1
HELDOUT = REPO_ROOT / "tests" / "data" / "heldout"
TEST_STORIES = REPO_ROOT / "tests" / "test_stories.yml"
EVALUATION_FILES = tuple(HELDOUT / name for name in (
    "in_scope.yml", "out_of_scope.yml", "crisis.yml", "hard_negatives.yml", "far_domain.txt")) + (TEST_STORIES,)
OUT_OF_SCOPE = "out_of_scope"
NO_GUESS = {OUT_OF_SCOPE, "nlu_fallback"}
SAFETY = set(CRISIS_INTENTS)
# The files whose messages carry the intent they should get (far_domain.txt carries none).
LABELLED = ("in_scope", "out_of_scope", "crisis", "hard_negatives")
MODEL_PREFIX = "engage-"


# Pure figures, from lists of expected and predicted intents.

def normalise(predicted: str) -> str:
    """Declining to guess is one answer, whichever component declined."""
    return OUT_OF_SCOPE if predicted in NO_GUESS else predicted


def accuracy(expected: Sequence[str], predicted: Sequence[str]) -> float:
    return sum(e == p for e, p in zip(expected, predicted, strict=True)) / len(expected) if expected else 0.0


def share_in(predicted: Sequence[str], accepted: set) -> float:
    """The share of predictions that are one of `accepted` (a recall when every message should be)."""
    return sum(p in accepted for p in predicted) / len(predicted) if predicted else 0.0


def per_intent_scores(expected: Sequence[str], predicted: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Precision, recall, F1 and support of each expected intent; an undefined ratio is 0."""
    pairs = Counter(zip(expected, predicted, strict=True))
    support = Counter(expected)
    predicted_count = Counter(predicted)
    scores: Dict[str, Dict[str, float]] = {}
    for intent in sorted(support):
        right = pairs[(intent, intent)]
        precision = right / predicted_count[intent] if predicted_count[intent] else 0.0
        recall = right / support[intent]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[intent] = {"precision": precision, "recall": recall, "f1": f1, "support": support[intent]}
    return scores


def macro_f1(per_intent: Dict[str, Dict[str, float]]) -> float:
    return sum(s["f1"] for s in per_intent.values()) / len(per_intent) if per_intent else 0.0


def confusion_pairs(expected: Sequence[str], predicted: Sequence[str]) -> List[Dict[str, Any]]:
    """Every (expected, predicted) mistake with its count: most frequent first, then by name."""
    counts = Counter((e, p) for e, p in zip(expected, predicted, strict=True) if e != p)
    return [{"expected": e, "predicted": p, "count": n}
            for (e, p), n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def confusion_matrix(expected: Sequence[str], predicted: Sequence[str]) -> Tuple[List[str], List[List[int]]]:
    """Labels (every expected or predicted intent, sorted) and counts[expected][predicted]."""
    labels = sorted(set(expected) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for e, p in zip(expected, predicted, strict=True):
        counts[index[e]][index[p]] += 1
    return labels, counts


def intent_figures(expected: Sequence[str], predicted: Sequence[str]) -> Dict[str, Any]:
    """accuracy, macro_f1, per_intent and confusions of raw predictions (normalised here)."""
    predicted = [normalise(p) for p in predicted]
    per_intent = per_intent_scores(expected, predicted)
    return {"accuracy": accuracy(expected, predicted), "macro_f1": macro_f1(per_intent),
            "per_intent": per_intent, "confusions": confusion_pairs(expected, predicted)}


# The evaluation set.

def evaluation_set_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in EVALUATION_FILES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def load_evaluation_set() -> Dict[str, Any]:
    def read(name: str) -> Any:
        return yaml.safe_load((HELDOUT / name).read_text(encoding="utf-8"))

    in_scope = [(text, intent) for intent, texts in read("in_scope.yml")["intents"].items() for text in texts]
    crisis = [(text, intent) for intent, texts in read("crisis.yml").items() for text in texts]
    far_domain = [line for line in (HELDOUT / "far_domain.txt").read_text(encoding="utf-8").splitlines()
                  if line.strip()]
    return {
        "in_scope": in_scope,
        "out_of_scope": [(text, OUT_OF_SCOPE) for text in read("out_of_scope.yml")["out_of_scope"]],
        "crisis": crisis,
        "hard_negatives": [(item["text"], item["intent"]) for item in read("hard_negatives.yml")["hard_negatives"]],
        "far_domain": far_domain,
    }


def labelled_intents(data: Dict[str, Any], predicted: Dict[str, List[str]]) -> Tuple[List[str], List[str]]:
    """The labelled messages' expected intents, and their predicted ones (raw names), in file order."""
    return ([intent for part in LABELLED for _, intent in data[part]],
            [p for part in LABELLED for p in predicted[part]])


def report_from_predictions(data: Dict[str, Any], predicted: Dict[str, List[str]]) -> Dict[str, Any]:
    """Every figure of the report from each file's predictions (raw intent names, in file order)."""
    report = intent_figures(*labelled_intents(data, predicted))
    report.update({
        "in_scope_accuracy": accuracy([i for _, i in data["in_scope"]],
                                      [normalise(p) for p in predicted["in_scope"]]),
        "oos_recall": share_in(predicted["out_of_scope"], NO_GUESS),
        "crisis_recall": share_in(predicted["crisis"], SAFETY),
        "crisis_missed": [text for (text, _), p in zip(data["crisis"], predicted["crisis"], strict=True)
                          if p not in SAFETY],
        "crisis_false_alarm_rate": share_in(predicted["hard_negatives"], SAFETY),
        "far_domain_in_scope_rate": 1 - share_in(predicted["far_domain"], NO_GUESS | SAFETY),
        "far_domain_crisis": sum(p in SAFETY for p in predicted["far_domain"]),
        "counts": {part: len(data[part]) for part in (*LABELLED, "far_domain")},
    })
    return report


# Running the model.

@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """The model's config names the spaCy pipeline relative to the project it was trained in."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _quiet_rasa() -> None:
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # Rasa's debug lines would print every message it parses.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


async def _predict(agent: Any, data: Dict[str, Any]) -> Dict[str, List[str]]:
    predicted: Dict[str, List[str]] = {}
    for part, items in data.items():
        texts = [item if isinstance(item, str) else item[0] for item in items]
        predicted[part] = [(await agent.parse_message(text))["intent"]["name"] for text in texts]
    return predicted


async def _run_stories(agent: Any) -> Dict[str, Any]:
    # Rasa's own story test (what `rasa test core` runs), without its report files and telemetry.
    from rasa.core.test import _collect_story_predictions, _create_data_generator

    trackers = _create_data_generator(str(TEST_STORIES), agent).generate_story_trackers()
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bar
        evaluation, total, _ = await _collect_story_predictions(trackers, agent)
    store = evaluation.evaluation_store
    return {
        "total": total,
        "passed": len(evaluation.successful_stories),
        "failed": len(evaluation.failed_stories),
        "failed_stories": sorted(tracker.sender_id for tracker in evaluation.failed_stories),
        "action_accuracy": accuracy(store.action_targets, store.action_predictions),
    }


def evaluate(model: Path, project: Path = REPO_ROOT) -> Dict[str, Any]:
    """Score `model`, write its evaluation file and the two charts beside it, return the report."""
    started = time.monotonic()
    data = load_evaluation_set()
    _quiet_rasa()
    from rasa.core.agent import Agent

    with working_directory(project), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agent = Agent.load(str(model))

        async def score() -> Tuple[Dict[str, List[str]], Dict[str, Any]]:
            return await _predict(agent, data), await _run_stories(agent)

        predicted, stories = asyncio.run(score())
    name = model_registry.name_of(model)
    report = report_from_predictions(data, predicted)
    report.update({
        "schema": SCHEMA,
        "model": name,
        "data_fingerprint": name[len(MODEL_PREFIX):] if name.startswith(MODEL_PREFIX) else None,
        "evaluation_set": evaluation_set_fingerprint(),
        "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_seconds": round(time.monotonic() - started, 1),
        "stories": stories,
    })
    previous = model_registry.read_evaluation(model)
    if previous is not None and previous.get("model") == name and "gate" in previous:
        # The verdict from when it was trained stays with the model.
        report["gate"] = previous["gate"]
    model_registry.write_evaluation(model, report)
    expected, raw = labelled_intents(data, predicted)
    plot_confusion_matrix(expected, [normalise(p) for p in raw], model_registry.chart_file(model, "confusion"), name)
    plot_f1(report["per_intent"], model_registry.chart_file(model, "f1"), name)
    return report


def is_current(report: Optional[Dict[str, Any]], model: Path) -> bool:
    """A report on this model, in this schema, on today's evaluation set."""
    if report is None:
        return False
    return (report.get("schema") == SCHEMA and report.get("model") == model_registry.name_of(model)
            and report.get("evaluation_set") == evaluation_set_fingerprint())


def evaluation_for(model: Path, project: Path = REPO_ROOT) -> Tuple[Dict[str, Any], bool]:
    """The model's report and whether it was just made: the file beside it if current, else a new one."""
    existing = model_registry.read_evaluation(model)
    if existing is not None and is_current(existing, model) and all(
            model_registry.chart_file(model, kind).is_file() for kind in model_registry.CHART_KINDS):
        return existing, False
    return evaluate(model, project), True


# Output.

def _pyplot() -> Any:
    import matplotlib  # type: ignore[import-untyped]

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot  # type: ignore[import-untyped]

    return pyplot


def plot_confusion_matrix(expected: Sequence[str], predicted: Sequence[str], path: Path, title: str) -> Path:
    """Rows: the intent expected; columns: the intent predicted; colour: the row's share; numbers:
    counts off the diagonal."""
    pyplot = _pyplot()
    labels, counts = confusion_matrix(expected, predicted)
    shares = [[n / (sum(row) or 1) for n in row] for row in counts]
    size = max(6.0, 0.32 * len(labels) + 3)
    figure, axes = pyplot.subplots(figsize=(size, size))
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axes.set_yticks(range(len(labels)), labels, fontsize=7)
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            if n and i != j:
                axes.text(j, i, str(n), ha="center", va="center", fontsize=6, color="darkred")
    axes.set_xlabel("predicted")
    axes.set_ylabel("expected")
    axes.set_title(f"{title}: intents on the held-out set")
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    pyplot.close(figure)
    return path


def plot_f1(per_intent: Dict[str, Dict[str, float]], path: Path, title: str) -> Path:
    pyplot = _pyplot()
    ranked = sorted(per_intent.items(), key=lambda item: (item[1]["f1"], item[0]))
    figure, axes = pyplot.subplots(figsize=(7, max(4.0, 0.22 * len(ranked) + 1.5)))
    values = [s["f1"] for _, s in ranked]
    axes.barh(range(len(ranked)), values, color="steelblue")
    for i, value in enumerate(values):
        axes.text(value - 0.01, i, f"{value:.2f}", ha="right", va="center", fontsize=6, color="white")
    axes.set_yticks(range(len(ranked)), [name for name, _ in ranked], fontsize=7)
    axes.set_xlim(0, 1)
    axes.set_xlabel("F1")
    axes.set_title(f"{title}: F1 per intent, held-out set")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    pyplot.close(figure)
    return path


def table(report: Dict[str, Any]) -> str:
    """The report for a terminal."""
    counts, stories = report["counts"], report["stories"]
    lines = [
        f"{report['model']}: evaluated {report['evaluated_at']} in {report['duration_seconds']:.1f} s "
        f"(evaluation set {report['evaluation_set']})",
        f"  intent accuracy          {report['accuracy']:.3f}  ({sum(counts[p] for p in counts if p != 'far_domain')}"
        " labelled messages)",
        f"  macro-F1                 {report['macro_f1']:.3f}",
        f"  in-scope accuracy        {report['in_scope_accuracy']:.3f}  (n={counts['in_scope']})",
        f"  out-of-scope recall      {report['oos_recall']:.3f}  (n={counts['out_of_scope']})",
        f"  crisis recall            {report['crisis_recall']:.3f}  (n={counts['crisis']}; "
        f"the gate wants {CRISIS_RECALL_REQUIRED:.3f})",
        f"  crisis false alarms      {report['crisis_false_alarm_rate']:.3f}  (n={counts['hard_negatives']})",
        f"  far-domain in scope      {report['far_domain_in_scope_rate']:.3f}  (n={counts['far_domain']}); "
        f"crisis intents {report['far_domain_crisis']}",
        f"  test stories             {stories['passed']}/{stories['total']} passed; "
        f"action accuracy {stories['action_accuracy']:.3f}",
    ]
    lines += [f"    failed story: {name}" for name in stories["failed_stories"]]
    lines += [f"    missed crisis: {text}" for text in report["crisis_missed"]]
    lines += ["", f"  {'intent':<26} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}"]
    for intent, s in sorted(report["per_intent"].items(), key=lambda item: (item[1]["f1"], item[0])):
        lines.append(f"  {intent:<26} {s['precision']:9.3f} {s['recall']:7.3f} {s['f1']:6.3f} {s['support']:8d}")
    top = report["confusions"][:10]
    if top:
        lines += ["", "  most frequent confusions (expected -> predicted):"]
        lines += [f"    {c['expected']} -> {c['predicted']}  x{c['count']}" for c in top]
    return "\n".join(lines)
