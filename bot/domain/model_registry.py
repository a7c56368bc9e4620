"""Trained models on disk: which one is live, and what each scored.

`models/live.txt` names the model the rasa server loads when it starts; `make train` writes it
when a new model passes the regression gate, and a deploy writes it when the running server has
loaded the model. Beside each `engage-<hash>.tar.gz` lies `engage-<hash>.evaluation.json`, its
scores and the gate's verdict (bot/ops/evaluation.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

from bot.settings import Settings

LIVE_POINTER = "live.txt"
MODEL_SUFFIX = ".tar.gz"
EVALUATION_SUFFIX = ".evaluation.json"
# The evaluation's charts beside the model: `<name>.confusion.png`, `<name>.f1.png`.
CHART_KINDS = ("confusion", "f1")


class UnknownModel(ValueError):
    """A model name that is not a trained model in the models folder."""


def name_of(model: Path) -> str:
    """`engage-1a2b3c` for `models/engage-1a2b3c.tar.gz`."""
    return model.name[: -len(MODEL_SUFFIX)] if model.name.endswith(MODEL_SUFFIX) else model.name


def model_file(settings: Settings, name: str) -> Path:
    """The model called `name` (with or without .tar.gz), which must exist in the models folder."""
    name = name_of(Path(name))
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise UnknownModel(f"{name!r} is not a model name")
    path = settings.models_dir / f"{name}{MODEL_SUFFIX}"
    if not path.is_file():
        raise UnknownModel(f"no model {name} in {settings.models_dir}")
    return path


def trained_models(settings: Settings) -> List[Path]:
    """Every trained model, newest first."""
    return sorted(settings.models_dir.glob(f"*{MODEL_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)


def live_model(settings: Settings) -> Optional[Path]:
    """The model the rasa server loads on start, or None before any model was made live."""
    pointer = settings.models_dir / LIVE_POINTER
    if not pointer.is_file():
        return None
    try:
        return model_file(settings, pointer.read_text(encoding="utf-8").strip())
    except UnknownModel:
        return None


def set_live_model(settings: Settings, model: Path) -> None:
    """Point live.txt at `model`, atomically: a server starting meanwhile reads the old or the new name."""
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    pointer = settings.models_dir / LIVE_POINTER
    scratch = pointer.with_suffix(".tmp")
    scratch.write_text(name_of(model) + "\n", encoding="utf-8")
    os.replace(scratch, pointer)


def evaluation_file(model: Path) -> Path:
    return model.with_name(name_of(model) + EVALUATION_SUFFIX)


def chart_file(model: Path, kind: str) -> Path:
    return model.with_name(f"{name_of(model)}.{kind}.png")


def evaluation_files(model: Path) -> List[Path]:
    """What lies beside a model about it: its evaluation report and charts (which may not exist)."""
    return [evaluation_file(model), *(chart_file(model, kind) for kind in CHART_KINDS)]


def read_evaluation(model: Path) -> Optional[Dict[str, Any]]:
    """The model's evaluation report, or None if it was never evaluated (or the file is unreadable)."""
    try:
        report = json.loads(evaluation_file(model).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def write_evaluation(model: Path, report: Dict[str, Any]) -> Path:
    path = evaluation_file(model)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(scratch, path)
    return path
