"""A models folder of stand-in model files with evaluation reports, for tests that never load a
model (the switch and the console's models page); the rasa server is faked (fake_rasa.py)."""

from __future__ import annotations

from pathlib import Path

from bot.domain.model_registry import write_evaluation
from bot.store import migrate
from tests.support.console_client import console_settings

PASSED = {"accuracy": 0.91, "macro_f1": 0.88, "oos_recall": 0.8, "crisis_recall": 1.0,
          "evaluated_at": "2026-11-01T08:00:00+00:00", "gate": {"passed": True, "forced": False, "reasons": []}}
FAILED = {**PASSED, "crisis_recall": 0.95,
          "gate": {"passed": False, "forced": False, "reasons": ["crisis recall 0.950 is below 1.000"]}}


def trained(models: Path, name: str, evaluation=None) -> Path:
    models.mkdir(parents=True, exist_ok=True)
    model = models / f"{name}.tar.gz"
    model.write_bytes(b"not really a model")
    if evaluation is not None:
        write_evaluation(model, evaluation)
    return model


def models_settings(tmp_path, **overrides):
    """Console settings with a migrated app DB and a models folder holding engage-old (the fake Rasa's
    loaded model), engage-new (passed the gate), engage-bad (failed it) and engage-raw (not evaluated)."""
    chosen = console_settings(tmp_path, models_dir=tmp_path / "models", **overrides)
    migrate(chosen.app_db_url)
    trained(chosen.models_dir, "engage-old", PASSED)
    trained(chosen.models_dir, "engage-new", PASSED)
    trained(chosen.models_dir, "engage-bad", FAILED)
    trained(chosen.models_dir, "engage-raw")
    return chosen
