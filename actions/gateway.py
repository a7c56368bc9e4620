"""Calls from the action server to the gateway's loopback-only, token-protected internal API."""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

import httpx

from bot.settings import get_settings

logger = logging.getLogger(__name__)


async def post_to_gateway(path: str, payload: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The gateway's JSON answer, or None if it could not be reached or refused."""
    settings = get_settings()
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.post(
                f"http://127.0.0.1:{settings.internal_api_port}{path}",
                headers={"Authorization": f"Bearer {settings.internal_api_token}"},
                json=payload,
            )
            response.raise_for_status()
            return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        # No payload in the log: it may hold contact details.
        logger.warning("gateway call %s failed: %s", path, type(exc).__name__)
        return None
