"""Rasa's usage telemetry is on by default; every way of starting the bot turns it off."""

from __future__ import annotations

import subprocess
import sys

from bot.ops.processes import rasa_environment
from bot.settings import REPO_ROOT

CHECK = "import rasa.telemetry as t; print(t.initialize_telemetry())"


def telemetry_enabled(env: dict) -> str:
    env = {**env, "HOME": env.get("HOME", "/root")}
    result = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_rasa_would_send_telemetry_without_our_setting(tmp_path):
    # A fresh HOME has no Rasa global config, so Rasa's own default applies: on.
    env = {k: v for k, v in rasa_environment().items() if k != "RASA_TELEMETRY_ENABLED"}
    env["HOME"] = str(tmp_path)
    assert telemetry_enabled(env) == "True"


def test_the_server_environment_turns_telemetry_off(tmp_path):
    env = {**rasa_environment(), "HOME": str(tmp_path)}
    assert telemetry_enabled(env) == "False"


def test_make_exports_the_switch_for_every_target():
    result = subprocess.run(["make", "-pn", "install"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert "export RASA_TELEMETRY_ENABLED" in result.stdout or "RASA_TELEMETRY_ENABLED := false" in result.stdout
    assert "export RASA_TELEMETRY_ENABLED := false" in (REPO_ROOT / "Makefile").read_text()


def test_every_procfile_process_starts_through_the_launcher_that_sets_it():
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        if line.strip():
            assert "-m bot serve" in line, line


def test_ci_turns_it_off():
    assert "RASA_TELEMETRY_ENABLED=false" in (REPO_ROOT / ".ci" / "run").read_text()
