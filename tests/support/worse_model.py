"""A deliberately worse model, for the regression gate's tests: a real Rasa model of this checkout's
config, domain, rules and stories, trained on a fraction of the NLU examples.

Every crisis and emergency example is kept (the crisis layers stay what they are); of every other
intent only the first few examples are kept, so intent accuracy and macro-F1 fall well past the
gate's margins, and with about a fifth of the examples it trains in well under the two minutes
the real model takes. Trained once per machine: the model is cached in build/test-models/ under the
name its inputs give (bot/ops/training.py's data fingerprint of the project written here), so a
change to the data, the config or the components' code trains a new one.

    project = write_project(tmp_path / "project")
    model = worse_model(project, models_dir)      # a copy of the cached model in models_dir
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

from bot.domain import model_registry
from bot.ops import evaluation
from bot.ops.training import model_path, train_model
from bot.settings import REPO_ROOT, Settings, get_settings

CACHE = REPO_ROOT / "build" / "test-models"
KEPT_ENTIRELY = {"crisis_self_harm", "medical_emergency"}
KEPT_PER_INTENT = 8
KEPT_OUT_OF_SCOPE = 150
COPIED = ("config.yml", "domain.yml", "data/rules", "data/stories", "data/safety", "data/knowledge.yml")


def reduced_examples(examples: List, kept_per_intent: int = KEPT_PER_INTENT) -> List:
    """The first examples of each intent, in the order Rasa read them; all of the safety intents."""
    by_intent: Dict[str, List] = defaultdict(list)
    for example in examples:
        by_intent[example.get("intent")].append(example)
    kept: List = []
    for intent, group in by_intent.items():
        limit = len(group) if intent in KEPT_ENTIRELY else KEPT_OUT_OF_SCOPE if intent == "out_of_scope" \
            else kept_per_intent
        kept.extend(group[:limit])
    return kept


def write_project(destination: Path) -> Path:
    """A project folder: this checkout's training inputs, with data/nlu/ cut down to one file."""
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    for name in COPIED:
        source, target = REPO_ROOT / name, destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
    full = load_data(str(REPO_ROOT / "data" / "nlu"))
    reduced = TrainingData(training_examples=reduced_examples(full.intent_examples),
                           entity_synonyms=full.entity_synonyms, regex_features=full.regex_features,
                           lookup_tables=full.lookup_tables)
    nlu = destination / "data" / "nlu" / "reduced.yml"
    nlu.parent.mkdir(parents=True, exist_ok=True)
    nlu.write_text(reduced.nlu_as_yaml(), encoding="utf-8")
    return destination


def cached_model(project: Path, settings: Settings) -> Path:
    """The worse model in the cache, trained into a scratch folder first if missing (so a concurrent
    run never sees half a file)."""
    cached = CACHE / model_path(project, settings).name
    if cached.is_file():
        return cached
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="training-") as scratch:
        trained = train_model(project, settings.copy(update={"models_dir": Path(scratch)}))
        trained.replace(cached)
    return cached


def worse_model(project: Path, models_dir: Path, evaluated: bool = False, settings: Settings | None = None) -> Path:
    """The worse model of `project` (from write_project) copied into `models_dir`; with `evaluated`,
    its evaluation file and charts too (evaluated once, in the cache)."""
    settings = settings or get_settings()
    cached = cached_model(project, settings)
    if evaluated:
        evaluation.evaluation_for(cached, project)
    models_dir.mkdir(parents=True, exist_ok=True)
    beside = model_registry.evaluation_files(cached)
    for path in [cached] + (beside if evaluated else []):
        shutil.copyfile(path, models_dir / path.name)
    return models_dir / cached.name
