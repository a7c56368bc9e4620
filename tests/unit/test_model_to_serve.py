"""Which model `python -m bot serve rasa` loads: the live one, else the one for the current data."""

from __future__ import annotations

from bot.cli.main import model_to_serve
from bot.domain import model_registry
from bot.ops.training import model_path
from bot.settings import load_settings


def settings_for(tmp_path):
    return load_settings(_env_file=None, models_dir=tmp_path)


def test_the_live_model_is_served(tmp_path, capsys):
    settings = settings_for(tmp_path)
    old = tmp_path / "engage-000000000000.tar.gz"
    old.write_bytes(b"model")
    model_path(settings=settings).write_bytes(b"newer model, refused by the gate")
    model_registry.set_live_model(settings, old)
    assert model_to_serve(settings) == old
    assert "serving the live model engage-000000000000.tar.gz" in capsys.readouterr().out


def test_before_any_model_was_made_live_the_model_for_the_data_is_served(tmp_path, capsys):
    settings = settings_for(tmp_path)
    current = model_path(settings=settings)
    current.write_bytes(b"model")
    assert model_to_serve(settings) == current
    assert f"no model was made live yet: serving the model for the current data, {current.name}" in (
        capsys.readouterr().out)


def test_without_either_it_refuses(tmp_path, capsys):
    assert model_to_serve(settings_for(tmp_path)) is None
    assert "run `make train`" in capsys.readouterr().err
