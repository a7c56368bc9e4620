"""Training with a model name keyed on the training data, so an unchanged bot is never retrained."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path
from typing import List

from bot.domain.knowledge.loader import load as load_knowledge
from bot.ops.processes import rasa_environment
from bot.rasa_plugins.spacy_pipeline import build as build_spacy_pipeline
from bot.settings import REPO_ROOT

MODELS_DIR = REPO_ROOT / "models"
# What the trained model depends on. Answers and entity synonyms are read at run time and need no
# retraining. The crisis patterns are read at run time too, but the semantic crisis layer's threshold
# is learned from what the rules already catch, so a change to them is a different model.
TRAINING_INPUTS = ("config.yml", "domain.yml", "data/nlu", "data/rules", "data/stories", "data/safety",
                   "encoder.lock")
# The trained components' code and the rules they learn around: a change to either is a different model.
COMPONENT_SOURCES = ("bot/rasa_plugins", "bot/domain/safety")
MODELS_KEPT = 3


def training_files() -> List[Path]:
    files: List[Path] = []
    for name in TRAINING_INPUTS:
        path = REPO_ROOT / name
        files.extend(sorted(path.rglob("*.yml")) if path.is_dir() else [path])
    return files + [path for folder in COMPONENT_SOURCES for path in sorted((REPO_ROOT / folder).rglob("*.py"))]


def data_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in training_files():
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def model_path() -> Path:
    return MODELS_DIR / f"engage-{data_fingerprint()}.tar.gz"


def _prune_old_models(keep: Path) -> None:
    others = sorted(
        (p for p in MODELS_DIR.glob("engage-*.tar.gz") if p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in others[MODELS_KEPT - 1 :]:
        stale.unlink()


def ensure_trained(force: bool = False) -> Path:
    """Build the spaCy pipeline and train unless a model for this exact data exists."""
    build_spacy_pipeline(load_knowledge())
    target = model_path()
    if target.exists() and not force:
        print(f"model up to date: {target.relative_to(REPO_ROOT)}")
        return target
    print(f"training {target.relative_to(REPO_ROOT)} (takes a minute or two) ...", flush=True)
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable, "-m", "rasa", "train",
            "--fixed-model-name", target.name[: -len(".tar.gz")],
            "--out", str(MODELS_DIR),
            "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
            # Rasa's own cache keys on component configs, not their code: a changed component
            # would be reused as it was. This model name already says when anything changed.
            "--force",
        ],
        cwd=REPO_ROOT,
        env=rasa_environment(),
        check=True,
    )
    print(f"trained in {time.monotonic() - started:.0f} s: {target.relative_to(REPO_ROOT)}")
    _prune_old_models(target)
    return target
