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
    with pytest.raises(SettingsError, match="RASA_TOKEN: set a long random token in production"):
        load_settings(_env_file=None, environment="production", rasa_token="change-this-long-random-token")


@pytest.mark.parametrize("phone", ["(314) 555-0100", "314-555-0100", "314.555.0100", "+1 314 555 0100"])
def test_us_phone_formats_are_accepted(phone):
    assert load_settings(_env_file=None, clinic_phone=phone).clinic_phone == phone
