"""Rasa's own checks on the training data and the trained dialogue model."""

from __future__ import annotations

import subprocess
import sys

from bot.runtime import rasa_environment
from bot.settings import REPO_ROOT
from bot.training import ensure_trained

RASA = [sys.executable, "-m", "rasa"]


def run_rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        RASA + list(args), cwd=REPO_ROOT, env=rasa_environment(), capture_output=True, text=True, timeout=timeout
    )


def test_rasa_data_validate_reports_no_errors_or_warnings():
    result = run_rasa("data", "validate", "--fail-on-warnings",
                      "--config", "config.yml", "--domain", "domain.yml", "--data", "data")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_test_stories_pass_without_a_single_prediction_error(tmp_path):
    model = ensure_trained()
    result = run_rasa("test", "core", "--model", str(model), "--stories", "tests/test_stories.yml",
                      "--fail-on-prediction-errors", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = (tmp_path / "story_report.json")
    assert report.exists()
