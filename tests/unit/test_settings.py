"""Settings come from the environment and .env, and a bad value fails with the variable's name."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings


def test_defaults_leave_clinic_details_unset(monkeypatch):
    monkeypatch.delenv("CLINIC_PHONE", raising=False)
    settings = load_settings(_env_file=None)
    assert settings.clinic_name == "Engage Wellness"
    assert settings.clinic_details()["phone"] is None
    assert settings.tracker_db_url.startswith("sqlite:///")


def test_values_come_from_a_dotenv_file(tmp_path, monkeypatch):
    monkeypatch.delenv("CLINIC_HOURS", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("CLINIC_PHONE=(314) 555-0100\nCLINIC_HOURS=Mon-Fri 8-6\nCLINIC_ADDRESS=\n")
    settings = load_settings(_env_file=env_file)
    assert settings.clinic_phone == "(314) 555-0100"
    assert settings.clinic_hours == "Mon-Fri 8-6"
    assert settings.clinic_address is None


def test_environment_wins_over_dotenv(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("CLINIC_NAME=From File\n")
    monkeypatch.setenv("CLINIC_NAME", "From Environment")
    assert load_settings(_env_file=env_file).clinic_name == "From Environment"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("clinic_phone", "call us", "CLINIC_PHONE: 'call us' is not a US phone number"),
        ("clinic_address", "<clinic address>", "CLINIC_ADDRESS: '<clinic address>' is a placeholder"),
        ("clinic_prices", "TODO", "CLINIC_PRICES: 'TODO' is a placeholder"),
        ("rasa_port", "not-a-port", "RASA_PORT: value is not a valid integer"),
        ("rasa_port", 70000, "RASA_PORT: ensure this value is less than or equal to 65535"),
        ("tracker_db_url", "mysql://x/y", "TRACKER_DB_URL: must start with sqlite:// or postgresql://"),
        ("environment", "staging", "ENVIRONMENT: unexpected value"),
    ],
)
def test_bad_values_name_the_variable(field, value, message):
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, **{field: value})
    assert message in str(error.value)


def test_production_refuses_the_example_token():
    with pytest.raises(SettingsError, match="RASA_TOKEN: set a long random value in production"):
        load_settings(_env_file=None, environment="production", rasa_token="change-this-long-random-token")


@pytest.mark.parametrize("phone", ["(314) 555-0100", "314-555-0100", "314.555.0100", "+1 314 555 0100"])
def test_us_phone_formats_are_accepted(phone):
    assert load_settings(_env_file=None, clinic_phone=phone).clinic_phone == phone


def run_check(tmp_path, **env):
    import os
    import subprocess
    import sys

    from bot.settings import REPO_ROOT

    environment = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "bot", "check"], cwd=REPO_ROOT, env=environment,
                          capture_output=True, text=True)


def test_the_check_command_accepts_the_real_files(tmp_path):
    result = run_check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "are valid" in result.stdout


def test_a_bad_setting_stops_start_up_with_its_name(tmp_path):
    result = run_check(tmp_path, CLINIC_PHONE="not a phone")
    assert result.returncode == 2
    assert "CLINIC_PHONE" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_knowledge_file_stops_start_up_with_entry_and_field(tmp_path):
    from bot.settings import REPO_ROOT

    broken = tmp_path / "knowledge.yml"
    text = (REPO_ROOT / "data" / "knowledge.yml").read_text()
    broken.write_text(text.replace("reviewed: 2026-11-26", "reviewed: someday", 1))
    result = run_check(tmp_path, KNOWLEDGE_FILE=str(broken))
    assert result.returncode == 2
    assert "field reviewed: invalid date format" in result.stderr
    assert "Traceback" not in result.stderr


SECRETS = {"rasa_token": "r" * 32, "gateway_secret": "g" * 32, "internal_api_token": "i" * 32,
           "rasa_channel_token": "c" * 32, "action_server_token": "a" * 32}


@pytest.mark.parametrize("name", sorted(SECRETS))
@pytest.mark.parametrize("value", ["dev-a-default-value-of-forty-characters!", "short-but-random-x7Qz"],
                         ids=["dev-default", "short"])
def test_production_wants_every_service_secret_long_and_random(name, value):
    with pytest.raises(SettingsError, match=f"{name.upper()}: set a long random value in production"):
        load_settings(_env_file=None, environment="production", **{**SECRETS, name: value})


def test_production_accepts_long_random_secrets():
    assert load_settings(_env_file=None, environment="production", **SECRETS).action_server_token == "a" * 32


def test_production_refuses_the_example_internal_api_token():
    with pytest.raises(SettingsError, match="INTERNAL_API_TOKEN: set a long random value in production"):
        load_settings(_env_file=None, environment="production", rasa_token="r" * 32, gateway_secret="g" * 32)


def test_production_servers_log_no_info_lines_that_quote_visitors():
    from bot.ops.processes import rasa_environment

    production = load_settings(_env_file=None, environment="production", **SECRETS)
    assert rasa_environment(production)["LOG_LEVEL"] == "WARNING"


def test_the_gateway_and_action_server_run_on_the_public_python_and_rasa_on_this_one(tmp_path):
    import sys

    from bot.ops.processes import action_server_command, gateway_command, rasa_server_command

    python = tmp_path / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    settings = load_settings(_env_file=None, public_python=python)
    assert gateway_command(settings) == [str(python), "-m", "bot.gateway"]
    assert action_server_command(settings) == [str(python), "-m", "actions"]
    assert rasa_server_command("model.tar.gz", settings)[0] == sys.executable


def test_a_missing_public_environment_stops_serve_with_how_to_make_it(tmp_path):
    import os
    import subprocess
    import sys

    from bot.ops.processes import PublicPythonMissing, gateway_command
    from bot.settings import REPO_ROOT

    missing = tmp_path / "nowhere" / "python"
    with pytest.raises(PublicPythonMissing, match="make install"):
        gateway_command(load_settings(_env_file=None, public_python=missing))
    result = subprocess.run([sys.executable, "-m", "bot", "serve", "actions"], cwd=REPO_ROOT,
                            env={**os.environ, "PUBLIC_PYTHON": str(missing)}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and f"error: {missing} does not exist" in result.stderr
