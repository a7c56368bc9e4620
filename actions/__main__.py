"""`python -m actions`: the action server, on 127.0.0.1 only, answering only the rasa server.

rasa_sdk's own server listens on every interface and runs any action for any caller; this one
wants `Authorization: Bearer <ACTION_SERVER_TOKEN>` (sent by Rasa, endpoints.yml) on every request
but the health check. Requests carry whole conversations, so none is logged: no access log, and a
failing action is logged by its name and exception type, and answered without the request body
(rasa_sdk's own error answer echoes it, and Rasa then logs that answer at ERROR).
"""

from __future__ import annotations

import hmac
import inspect
import logging
import warnings
from typing import Any, Dict

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import get_settings

OPEN_PATHS = {"/health"}
logger = logging.getLogger("actions")


def build_app():
    settings = get_settings()
    expected = f"Bearer {settings.action_server_token}".encode()
    app = _rasa_sdk_app()

    @app.middleware("request")
    async def require_token(request: Request) -> HTTPResponse | None:
        supplied = request.headers.get("authorization", "").encode()
        if request.path not in OPEN_PATHS and not hmac.compare_digest(supplied, expected):
            return response.json({"error": "unauthorised"}, status=401)
        return None

    async def failed(request: Request, exception: Exception) -> HTTPResponse:
        action = _action_name(request)
        logger.error("action %s failed: %s", action, type(exception).__name__)
        return response.json({"error": "the action failed", "action_name": action}, status=500)

    # Replaces rasa_sdk's own handler for Exception (Sanic 25 refuses a second one for the same key).
    app.error_handler.cached_handlers.pop((Exception, None), None)
    app.error_handler.add(Exception, failed)
    return app


def _rasa_sdk_app() -> Sanic:
    """rasa_sdk's app (/health, /actions, /webhook) running this package's actions, without CORS.

    rasa-sdk 3.6 (.venv, Python 3.10) loads the package itself; the newer rasa-sdk of .venv-public
    (Python 3.11, requirements-public.lock) takes an ActionExecutor with the package registered.
    """
    if "action_executor" not in inspect.signature(create_app).parameters:
        return create_app("actions", cors_origins=None)
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    return create_app(executor, cors_origins=None)


def _action_name(request: Request) -> object:
    try:
        body = request.json
    except Exception:  # an unreadable body names no action
        return None
    return body.get("next_action") if isinstance(body, dict) else None


def main() -> None:
    settings = get_settings()
    # rasa-sdk 3.21 serves Rasa 3.6 on purpose (the /webhook contract is the same): not a warning per process.
    warnings.filterwarnings("ignore", message="Your versions of rasa and rasa_sdk might not be compatible")
    app = build_app()
    options: Dict[str, Any] = {"workers": 1, "access_log": False}
    if "single_process" in inspect.signature(app.run).parameters:
        # Sanic >= 22.9 would otherwise serve from a spawned worker, which re-imports this module as
        # __mp_main__ and finds no app: one process, the one bot/ops/processes.py started.
        options = {"single_process": True, "access_log": False}
    app.run("127.0.0.1", settings.action_port, **options)


if __name__ == "__main__":
    main()
