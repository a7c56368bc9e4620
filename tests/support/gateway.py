"""An in-process gateway (Starlette's TestClient) on a running stack's settings."""

from starlette.testclient import TestClient

from bot.gateway.app import create_app


def gateway_for(stack, **overrides) -> TestClient:
    settings = stack.settings.copy(update=overrides)
    return TestClient(create_app(settings))
