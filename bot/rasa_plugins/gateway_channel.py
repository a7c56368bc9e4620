"""The gateway's way into Rasa: Rasa's REST channel behind a shared secret.

Rasa's own REST channel takes a message for any conversation id from any local process. This one
(`/webhooks/gateway/webhook`, credentials.yml) answers only requests that carry
`Authorization: Bearer <RASA_CHANNEL_TOKEN>`, so only the gateway, which checks who a visitor is,
can write into a conversation.
"""

from __future__ import annotations

import hmac
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse


class GatewayInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "GatewayInput":
        token = str((credentials or {}).get("token") or "")
        if len(token) < 16:
            raise ValueError("credentials.yml: the gateway channel needs a token of 16 characters or more")
        return cls(token)

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)

        @webhook.middleware("request")
        async def require_token(request: Request) -> Optional[HTTPResponse]:
            supplied = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(supplied, self._expected):
                return response.json({"error": "unauthorised"}, status=401)
            return None

        return webhook
