"""5-fold cross-validation of our NLU pipeline against a TF-IDF + logistic-regression baseline.

Both see exactly the same folds. A DIET prediction of `nlu_fallback` counts as
a miss for in-scope messages (the bot asks to rephrase) and as a success for
out-of-scope ones (the bot does not guess).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline, make_union

from bot.ops.processes import rasa_environment
from bot.settings import REPO_ROOT

FOLDS = 5
SEED = 7
NO_GUESS = {"out_of_scope", "nlu_fallback"}
SAFETY = {"crisis_self_harm", "medical_emergency"}


def baseline_model():
    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    )
    return make_pipeline(features, LogisticRegression(C=10, max_iter=3000))


def train_rasa_nlu(examples, workdir: Path, name: str) -> Path:
    data_file = workdir / f"{name}.yml"
    data_file.write_text(TrainingData(training_examples=examples).nlu_as_yaml())
    subprocess.run(
        [sys.executable, "-m", "rasa", "train", "nlu", "--config", "config.yml", "--nlu", str(data_file),
         "--out", str(workdir), "--fixed-model-name", name],
        cwd=REPO_ROOT, env=rasa_environment(), check=True, capture_output=True,
    )
    return workdir / f"{name}.tar.gz"


def rasa_predictions(model: Path, texts: List[str]) -> List[str]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs every parsed text at debug level in-process

    agent = Agent.load(str(model))

    async def parse_all() -> List[str]:
        return [(await agent.parse_message(text))["intent"]["name"] for text in texts]

    return asyncio.run(parse_all())


def scores(truth: List[str], predicted: List[str]) -> Dict[str, float]:
    labels = sorted(set(truth))
    oos = [p in NO_GUESS for t, p in zip(truth, predicted, strict=True) if t == "out_of_scope"]
    safety = [p == t for t, p in zip(truth, predicted, strict=True) if t in SAFETY]
    return {
        "macro_f1": f1_score(truth, predicted, labels=labels, average="macro", zero_division=0),
        "accuracy": accuracy_score(truth, predicted),
        "oos_recall": sum(oos) / len(oos),
        "safety_recall": sum(safety) / len(safety),
    }


def main() -> Dict[str, Dict[str, float]]:
    data = load_data(str(REPO_ROOT / "data" / "nlu"))
    examples = [m for m in data.intent_examples]
    texts = [m.get("text") for m in examples]
    labels = [m.get("intent") for m in examples]
    print(f"{len(examples)} examples, {len(set(labels))} intents, {FOLDS} folds")

    truth: List[str] = []
    ours: List[str] = []
    base: List[str] = []
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED).split(texts, labels)
    with tempfile.TemporaryDirectory() as tmp:
        for number, (train_idx, test_idx) in enumerate(folds, start=1):
            started = time.monotonic()
            model = train_rasa_nlu([examples[i] for i in train_idx], Path(tmp), f"fold{number}")
            test_texts = [texts[i] for i in test_idx]
            ours += rasa_predictions(model, test_texts)
            baseline = baseline_model().fit([texts[i] for i in train_idx], [labels[i] for i in train_idx])
            base += list(baseline.predict(test_texts))
            truth += [labels[i] for i in test_idx]
            print(f"  fold {number}/{FOLDS} done in {time.monotonic() - started:.0f} s", flush=True)

    results = {"ours (pipeline + rules)": scores(truth, ours), "baseline (TF-IDF + LR)": scores(truth, base)}
    print(f"{'':24} {'macro-F1':>9} {'accuracy':>9} {'OOS recall':>11} {'crisis recall':>14}")
    for name, figures in results.items():
        print(f"{name:24} {figures['macro_f1']:9.3f} {figures['accuracy']:9.3f} "
              f"{figures['oos_recall']:11.3f} {figures['safety_recall']:14.3f}")
    confused = sorted(
        {(t, p) for t, p in zip(truth, ours, strict=True) if t != p}, key=lambda pair: -sum(
            1 for t, p in zip(truth, ours, strict=True) if (t, p) == pair))[:8]
    print("most common confusions (truth -> predicted):",
          ", ".join(f"{t}->{p}" for t, p in confused))
    return results


if __name__ == "__main__":
    main()
