"""`python -m actions`: the action server, on 127.0.0.1 only, answering only the rasa server.

rasa_sdk's own server listens on every interface and runs any action for any caller; this one
wants `Authorization: Bearer <ACTION_SERVER_TOKEN>` (sent by Rasa, endpoints.yml) on every request
but the health check. Requests carry whole conversations, so none is logged: no access log, and a
failing action is logged by its name and exception type, and answered without the request body
(rasa_sdk's own error answer echoes it, and Rasa then logs that answer at ERROR).
"""

from __future__ import annotations

import hmac
import logging

from rasa_sdk.endpoint import create_app
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import get_settings

OPEN_PATHS = {"/health"}
logger = logging.getLogger("actions")


def build_app():
    settings = get_settings()
    expected = f"Bearer {settings.action_server_token}".encode()
    app = create_app("actions", cors_origins=None)

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

    app.error_handler.add(Exception, failed)
    return app


def _action_name(request: Request) -> object:
    try:
        body = request.json
    except Exception:  # an unreadable body names no action
        return None
    return body.get("next_action") if isinstance(body, dict) else None


def main() -> None:
    settings = get_settings()
    build_app().run("127.0.0.1", settings.action_port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
