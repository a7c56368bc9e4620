"""Rasa's own checks on the training data and the trained dialogue model."""

from __future__ import annotations

import subprocess
import sys

from bot.ops.processes import rasa_environment
from bot.ops.training import train_model
from bot.settings import REPO_ROOT

RASA = [sys.executable, "-m", "rasa"]
# Sent by action_rephrase_or_offer_person or asked by callback_form, which Rasa's
# validator cannot see (see domain.yml).
SENT_BY_CUSTOM_ACTION = {
    "utter_ask_rephrase", "utter_offer_person", "utter_empty_message",
    "utter_no_words", "utter_english_only", "utter_message_too_long",
    "utter_ask_callback_consent", "utter_ask_callback_name", "utter_ask_callback_contact", "utter_ask_callback_time",
}


def run_rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        RASA + list(args), cwd=REPO_ROOT, env=rasa_environment(), capture_output=True, text=True, timeout=timeout
    )


def test_rasa_data_validate_reports_no_errors_or_warnings():
    result = run_rasa("data", "validate", "--fail-on-warnings",
                      "--config", "config.yml", "--domain", "domain.yml", "--data", "data")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    output = result.stdout + result.stderr
    warnings = [line for line in output.splitlines() if "UserWarning" in line]
    unexplained = [
        line for line in warnings
        if not any(f"The utterance '{name}' is not used" in line for name in SENT_BY_CUSTOM_ACTION)
    ]
    assert unexplained == []


def test_test_stories_pass_without_a_single_prediction_error(tmp_path):
    model = train_model()
    result = run_rasa("test", "core", "--model", str(model), "--stories", "tests/test_stories.yml",
                      "--fail-on-prediction-errors", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = (tmp_path / "story_report.json")
    assert report.exists()
