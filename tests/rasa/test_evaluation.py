"""The evaluation of the real model (bot/ops/evaluation.py) and the regression gate in `python -m bot
train` (bot/ops/training.py) refusing, then being forced to take, a deliberately worse model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from bot.domain import model_registry
from bot.ops import evaluation
from bot.ops.training import train_model
from bot.settings import REPO_ROOT
from tests.support.worse_model import worse_model, write_project

PNG = b"\x89PNG\r\n\x1a\n"
LABELLED = ("in_scope", "out_of_scope", "crisis", "hard_negatives")


def beside(model: Path, folder: Path) -> Path:
    """The model linked into `folder`, so what is written beside it stays in the test's folder."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / model.name
    link.symlink_to(model)
    return link


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    model = beside(train_model(), tmp_path_factory.mktemp("models"))
    return model, evaluation.evaluate(model)


def test_the_report_is_complete_and_written_beside_the_model(evaluated):
    model, report = evaluated
    assert model_registry.read_evaluation(model) == json.loads(json.dumps(report))
    assert report["model"] == model_registry.name_of(model)
    assert report["data_fingerprint"] == report["model"].removeprefix("engage-")
    assert report["evaluation_set"] == evaluation.evaluation_set_fingerprint()
    assert datetime.fromisoformat(report["evaluated_at"]).tzinfo is not None
    assert 0 < report["duration_seconds"] < 600
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "crisis_recall",
                "crisis_false_alarm_rate", "far_domain_in_scope_rate"):
        assert 0.0 <= report[key] <= 1.0, key


def test_the_figures_are_sane_for_the_shipped_model(evaluated):
    _, report = evaluated
    # Far below docs/nlu.md's figures, far above a broken model's.
    assert report["accuracy"] > 0.85 and report["macro_f1"] > 0.85
    assert report["crisis_recall"] > 0.9 and report["oos_recall"] > 0.8
    assert report["stories"]["passed"] == report["stories"]["total"]


def test_the_figures_agree_with_the_per_intent_table(evaluated):
    _, report = evaluated
    per_intent, counts = report["per_intent"], report["counts"]
    labelled = sum(counts[part] for part in LABELLED)
    assert sum(s["support"] for s in per_intent.values()) == labelled
    right = sum(round(s["recall"] * s["support"]) for s in per_intent.values())
    assert report["accuracy"] == pytest.approx(right / labelled)
    assert sum(c["count"] for c in report["confusions"]) == labelled - right
    assert report["macro_f1"] == pytest.approx(sum(s["f1"] for s in per_intent.values()) / len(per_intent))
    for name, s in per_intent.items():
        expected_f1 = 2 * s["precision"] * s["recall"] / (s["precision"] + s["recall"]) if s["f1"] else 0.0
        assert s["f1"] == pytest.approx(expected_f1), name
    # An intent's recall misses are exactly its rows in the confusion pairs.
    for name, s in per_intent.items():
        missed = sum(c["count"] for c in report["confusions"] if c["expected"] == name)
        assert round((1 - s["recall"]) * s["support"]) == missed, name
    assert report["crisis_recall"] == pytest.approx(1 - len(report["crisis_missed"]) / counts["crisis"])
    data = evaluation.load_evaluation_set()
    assert counts == {part: len(items) for part, items in data.items()}
    assert set(per_intent) == {intent for part in LABELLED for _, intent in data[part]}


def test_the_test_stories_are_all_counted(evaluated):
    _, report = evaluated
    stories = report["stories"]
    in_file = len(yaml.safe_load(evaluation.TEST_STORIES.read_text())["stories"])
    assert stories["total"] == in_file == stories["passed"] + stories["failed"]
    assert len(stories["failed_stories"]) == stories["failed"]
    assert 0.0 <= stories["action_accuracy"] <= 1.0


def test_the_charts_are_pngs_beside_the_model(evaluated):
    model, _ = evaluated
    for kind in ("confusion", "f1"):
        chart = model.with_name(f"{model_registry.name_of(model)}.{kind}.png")
        assert chart.read_bytes()[:8] == PNG
        assert chart.stat().st_size > 10_000


def bot_train(project: Path, models: Path, *options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELS_DIR": str(models), "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", "bot", "train", "--project", str(project), *options],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.timeout(900)
def test_the_gate_refuses_a_worse_model_and_force_makes_it_live(tmp_path):
    good = train_model()
    good_report, _ = evaluation.evaluation_for(good)
    models = tmp_path / "models"
    live = beside(good, models)
    for path in model_registry.evaluation_files(good):
        (models / path.name).write_bytes(path.read_bytes())
    project = write_project(tmp_path / "project")
    worse = worse_model(project, models)
    from bot.settings import load_settings

    settings = load_settings(_env_file=None, models_dir=models)
    model_registry.set_live_model(settings, live)
    pointer = (models / model_registry.LIVE_POINTER).read_text()

    refused = bot_train(project, models)
    assert refused.returncode == 1, refused.stdout[-3000:] + refused.stderr[-3000:]
    assert "regression gate:" in refused.stdout
    assert f"live: {model_registry.name_of(live)}    candidate: {model_registry.name_of(worse)}" in refused.stdout
    assert "intent accuracy" in refused.stdout.split("regression gate:")[1]
    assert "intents whose F1 got worse" in refused.stdout
    assert "the regression gate refused" in refused.stderr and "--force" in refused.stderr
    assert (models / model_registry.LIVE_POINTER).read_text() == pointer
    verdict = model_registry.read_evaluation(worse)["gate"]
    assert verdict["passed"] is False and verdict["forced"] is False
    assert verdict["compared_with"] == good_report["model"] and verdict["reasons"] and verdict["worse_intents"]
    for worse_intent in verdict["worse_intents"]:
        assert worse_intent["candidate_f1"] < worse_intent["live_f1"]
        assert worse_intent["live_f1"] == pytest.approx(good_report["per_intent"][worse_intent["intent"]]["f1"])

    forced = bot_train(project, models, "--force")
    assert forced.returncode == 0, forced.stdout[-3000:] + forced.stderr[-3000:]
    assert "FORCED" in forced.stdout and "(forced)" in forced.stdout
    assert model_registry.live_model(settings) == worse
    verdict = model_registry.read_evaluation(worse)["gate"]
    assert verdict["passed"] is False and verdict["forced"] is True
