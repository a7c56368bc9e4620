"""Training with a model name keyed on the training data, so an unchanged bot is never retrained,
then the regression gate (bot/ops/gate.py) before a new model is made live (models/live.txt).

A project folder holds what a model is trained from (config.yml, domain.yml, data/); by default the
checkout, but a copy elsewhere trains too (tests train a worse model that way). The code the model
runs (bot/rasa_plugins, bot/domain/safety, the encoder) is always this checkout's. Models go to
settings.models_dir (MODELS_DIR).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from bot.domain import model_registry
from bot.domain.knowledge.loader import load as load_knowledge
from bot.ops import evaluation, gate
from bot.ops.processes import rasa_environment
from bot.rasa_plugins.spacy_pipeline import build as build_spacy_pipeline
from bot.settings import REPO_ROOT, Settings, get_settings

# What the trained model depends on, in the project. Answers and entity synonyms are read at run
# time and need no retraining. The crisis patterns are read at run time too, but the semantic crisis
# layer's threshold is learned from what the rules already catch, so a change to them is a different model.
TRAINING_INPUTS = ("config.yml", "domain.yml", "data/nlu", "data/rules", "data/stories", "data/safety")
# In the checkout: the encoder's pin, the trained components' code and the rules they learn around.
CODE_INPUTS = ("encoder.lock",)
COMPONENT_SOURCES = ("bot/rasa_plugins", "bot/domain/safety")
MODELS_KEPT = 3


class GateRefused(RuntimeError):
    """The regression gate refused the new model; the live model stays."""

    def __init__(self, verdict: gate.Verdict, live: Optional[Path]) -> None:
        super().__init__("; ".join(verdict.reasons))
        self.verdict = verdict
        self.live = live


def _files(root: Path, names: tuple) -> List[Path]:
    files: List[Path] = []
    for name in names:
        path = root / name
        files.extend(sorted(path.rglob("*.yml")) if path.is_dir() else [path])
    return files


def data_fingerprint(project: Path = REPO_ROOT) -> str:
    """Hash of the training inputs (by their path in the project) and of the model's code."""
    digest = hashlib.sha256()
    inputs = [(project, path) for path in _files(project, TRAINING_INPUTS)]
    inputs += [(REPO_ROOT, path) for path in _files(REPO_ROOT, CODE_INPUTS)]
    inputs += [(REPO_ROOT, path) for folder in COMPONENT_SOURCES for path in sorted((REPO_ROOT / folder).rglob("*.py"))]
    for root, path in inputs:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def model_path(project: Path = REPO_ROOT, settings: Optional[Settings] = None) -> Path:
    """The model file for the project's current data (it may not exist yet)."""
    settings = settings or get_settings()
    return settings.models_dir / f"engage-{data_fingerprint(project)}{model_registry.MODEL_SUFFIX}"


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _prune_old_models(keep: Path, settings: Settings) -> None:
    """Keep the newest models, and always the live one; a model's evaluation and charts go with it."""
    live = model_registry.live_model(settings)
    kept = {keep} | ({live} if live is not None else set())
    others = [p for p in model_registry.trained_models(settings) if p not in kept]
    for stale in others[max(0, MODELS_KEPT - len(kept)):]:
        stale.unlink()
        for beside in model_registry.evaluation_files(stale):
            beside.unlink(missing_ok=True)


def train_model(project: Path = REPO_ROOT, settings: Optional[Settings] = None, retrain: bool = False) -> Path:
    """Build the spaCy pipeline and train unless a model for this exact data exists. No gate."""
    settings = settings or get_settings()
    # The checkout's knowledge file is the one settings name (KNOWLEDGE_FILE); another project's is its own.
    knowledge = settings.knowledge_file if project == REPO_ROOT else project / "data" / "knowledge.yml"
    build_spacy_pipeline(load_knowledge(knowledge), project / "build" / "spacy_knowledge")
    target = model_path(project, settings)
    if target.exists() and not retrain:
        print(f"model up to date: {_shown(target)}")
        return target
    print(f"training {_shown(target)} (takes a minute or two) ...", flush=True)
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable, "-m", "rasa", "train",
            "--fixed-model-name", model_registry.name_of(target),
            "--out", str(settings.models_dir.absolute()),
            "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
            # Rasa's own cache keys on component configs, not their code: a changed component
            # would be reused as it was. This model name already says when anything changed.
            "--force",
        ],
        cwd=project,
        env=rasa_environment(settings),
        check=True,
    )
    print(f"trained in {time.monotonic() - started:.0f} s: {_shown(target)}")
    _prune_old_models(target, settings)
    return target


def _report(model: Path, project: Path, role: str) -> Dict[str, Any]:
    report, fresh = evaluation.evaluation_for(model, project)
    if fresh:
        print(f"evaluated the {role} model {model_registry.name_of(model)} in {report['duration_seconds']:.0f} s")
    return report


def ensure_trained(project: Path = REPO_ROOT, settings: Optional[Settings] = None, retrain: bool = False,
                   force: bool = False) -> Path:
    """Train if needed, evaluate, and make the model live if the regression gate lets it (or `force`).
    Raises GateRefused, leaving the live model as it was."""
    settings = settings or get_settings()
    candidate = train_model(project, settings, retrain)
    live = model_registry.live_model(settings)
    if live == candidate:
        print(f"{candidate.name} is the live model")
        _report(candidate, project, "live")
        return candidate
    report = _report(candidate, project, "new")
    print(evaluation.table(report))
    live_report = _report(live, project, "live") if live is not None else None
    verdict = gate.judge(report, live_report, settings.gate_max_accuracy_drop, settings.gate_max_macro_f1_drop,
                         force=force)
    report["gate"] = verdict.record()
    model_registry.write_evaluation(candidate, report)
    print("\nregression gate:")
    print(verdict.table())
    if not verdict.passed and not force:
        raise GateRefused(verdict, live)
    if verdict.forced:
        print("\n" + "!" * 78)
        print(f"FORCED: the regression gate refused {candidate.name} and --force made it live anyway:")
        for reason in verdict.reasons:
            print(f"  - {reason}")
        print("!" * 78)
    model_registry.set_live_model(settings, candidate)
    print(f"{candidate.name} is the live model now" + (" (forced)" if verdict.forced else " (gate passed)"))
    return candidate
