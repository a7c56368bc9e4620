"""How Rasa processes are started: environment and command lines, from settings.

The rasa server runs on this interpreter (.venv, Python 3.10: Rasa 3.6 needs it); the gateway and
the action server on .venv-public's Python 3.11 (settings.public_python).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, List

from bot.settings import REPO_ROOT, Settings, get_settings


def settings_environment(settings: Settings) -> Dict[str, str]:
    """Every setting as an environment variable, so child processes see exactly these settings."""
    return {name.upper(): "" if value is None else str(value) for name, value in settings.dict().items()}


def rasa_environment(settings: Settings | None = None) -> Dict[str, str]:
    settings = settings or get_settings()
    env = dict(os.environ)
    env.update(settings_environment(settings))
    env.update(
        {
            # Rasa's usage telemetry is on by default; the clinic promises no third-party data.
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            # A BLAS worker thread spin-waits between the small per-message matrix products: on two
            # cores it burned 0.7 of a core in the rasa server and slowed every other process.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            # oneDNN's kernels and caches cost ~40 MB of the rasa server's RSS (915 -> 877 MB) and no
            # measurable time on the encoder's one-message batches.
            "TF_ENABLE_ONEDNN_OPTS": "0",
            "SANIC_HOST": "127.0.0.1",
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{settings.action_port}/webhook",
            "TRACKER_DB_URL": settings.tracker_db_url,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        }
    )
    if settings.environment == "production":
        # Rasa's INFO and DEBUG lines quote what visitors wrote; production keeps warnings and errors.
        env.update({"LOG_LEVEL": "WARNING", "LOG_LEVEL_LIBRARIES": "ERROR"})
    return env


def rasa_server_command(model: str, settings: Settings | None = None) -> List[str]:
    settings = settings or get_settings()
    return [
        sys.executable, "-m", "bot.rasa_plugins.rasa_server", "run",
        "--enable-api", "--auth-token", settings.rasa_token,
        "--interface", "127.0.0.1", "--port", str(settings.rasa_port),
        "--model", model,
        "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
    ]


class PublicPythonMissing(RuntimeError):
    """The gateway's and action server's Python 3.11 environment is not installed."""


def public_python(settings: Settings | None = None) -> str:
    """The interpreter of .venv-public (PUBLIC_PYTHON): the gateway and the action server run on
    Python 3.11 with requirements-public.lock, apart from the rasa server's Python 3.10 (.venv)."""
    settings = settings or get_settings()
    python = Path(settings.public_python)
    if not (python.is_file() and os.access(python, os.X_OK)):
        raise PublicPythonMissing(
            f"{python} does not exist: the gateway and the action server run on Python 3.11 in their own "
            "environment; create it with `make install` (or set PUBLIC_PYTHON to its interpreter)"
        )
    # Not resolved: a venv's bin/python is a symlink to the base interpreter, which lacks the venv.
    return str(python)


def action_server_command(settings: Settings | None = None) -> List[str]:
    """The action server reads its port and token from the same settings, passed in its environment."""
    # rasa_sdk's server wrapped to want Rasa's token and listen on loopback only (actions/__main__.py).
    return [public_python(settings), "-m", "actions"]


def gateway_command(settings: Settings | None = None) -> List[str]:
    """The gateway reads its settings from its environment too."""
    # Two listeners, public and internal, in one process (bot/gateway/server.py).
    return [public_python(settings), "-m", "bot.gateway"]
