"""Talks to the rasa server for the gateway: the REST channel, the tracker, health and the loaded model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx

from bot.domain.model_registry import name_of
from bot.settings import Settings
from bot.store import rasa_events


class RasaUnavailable(Exception):
    """Rasa could not be reached or did not answer in time."""


class RasaUnreachable(RasaUnavailable):
    """No connection to Rasa was made, so it never saw the request: sending it again is safe."""


# Errors raised before a request reaches Rasa.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


# The gateway's own input channel into Rasa (bot/rasa_plugins/gateway_channel.py).
CHANNEL_PATH = "/webhooks/gateway/webhook"


class RasaClient:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._base = f"http://127.0.0.1:{settings.rasa_port}"
        self._actions = f"http://127.0.0.1:{settings.action_port}"
        # Keep-alive connections to loopback servers: no handshake on each message.
        self._http = httpx.AsyncClient(
            timeout=settings.rasa_timeout_seconds,
            limits=httpx.Limits(max_keepalive_connections=50, max_connections=200),
        )
        # Visitor messages with Rasa now: a model switch lets them finish before it loads the new model.
        self._sending = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, conversation_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        self._sending += 1
        self._idle.clear()
        try:
            response = await self._http.post(
                f"{self._base}{CHANNEL_PATH}",
                headers={"Authorization": f"Bearer {self._settings.rasa_channel_token}"},
                json={"sender": conversation_id, "message": text, "metadata": metadata},
            )
            response.raise_for_status()
        except _NOT_SENT as exc:
            raise RasaUnreachable(str(exc) or type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        finally:
            self._sending -= 1
            if not self._sending:
                self._idle.set()
        return response.json()

    async def wait_idle(self, seconds: float) -> int:
        """Wait up to `seconds` for the visitor messages now with Rasa; how many are still there."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass
        return self._sending

    async def status(self) -> Dict[str, Any]:
        """Rasa's /status: the loaded model's file name (`model_file`) and id (`model_id`)."""
        try:
            response = await self._http.get(f"{self._base}/status", params={"token": self._settings.rasa_token},
                                            timeout=5)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        return response.json()

    async def loaded_model(self) -> Optional[str]:
        """The name (engage-<hash>) of the model Rasa has loaded, or None when it reports none."""
        status = await self.status()
        loaded = status.get("model_file") if isinstance(status, dict) else None
        return name_of(Path(loaded)) if isinstance(loaded, str) and loaded else None

    async def load_model(self, model_file: str, timeout: float) -> None:
        """PUT /model: Rasa builds an agent for `model_file` (a path on this host) and swaps it in. It
        keeps the old agent if loading fails."""
        try:
            response = await self._http.put(f"{self._base}/model", params={"token": self._settings.rasa_token},
                                            json={"model_file": model_file}, timeout=timeout)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        if response.status_code != 204:
            try:
                body = response.json()
            except ValueError:
                body = None
            reason = body.get("message") if isinstance(body, dict) else None
            raise RasaUnavailable(f"HTTP {response.status_code}: {reason or response.text[:200]}")

    async def events(self, conversation_id: str) -> List[Dict[str, Any]]:
        """All events of the conversation, or [] for one Rasa has never seen."""
        try:
            response = await self._http.get(
                f"{self._base}/conversations/{conversation_id}/tracker",
                params={"token": self._settings.rasa_token, "include_events": "ALL"},
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        return response.json().get("events") or []

    async def resume(self, conversation_id: str, text: Optional[str] = None) -> None:
        """Un-pause a conversation, recording `text` (if any) as the bot's message in its transcript."""
        said = [{"event": "bot", "text": text}] if text else []
        # Ending on action_listen puts the dialogue back where rules expect a new message.
        await self._append_events(conversation_id, [{"event": "resume"}, *said,
                                                    {"event": "action", "name": "action_listen"}])

    async def record_staff_message(self, conversation_id: str, text: str, staff_name: str) -> None:
        """Add a staff member's message to the transcript, so one tracker holds every voice."""
        await self._append_events(conversation_id, [{"event": "bot", "text": text,
                                                     "metadata": {"staff_name": staff_name}}])

    async def record_assistant_message(self, conversation_id: str, message: Dict[str, Any], sent_by: str) -> None:
        """Add a message the gateway sent on the assistant's behalf (e.g. a crisis answer while paused)."""
        data = {"buttons": message.get("buttons") or None, "custom": {"urgent": bool(message.get("urgent"))}}
        await self._append_events(conversation_id, [{"event": "bot", "text": message["text"], "data": data,
                                                     "metadata": {"sent_by": sent_by}}])

    async def _append_events(self, conversation_id: str, events: List[Dict[str, Any]]) -> None:
        # Rasa runs the session start itself when events arrive for a conversation it has never seen
        # (the gateway answered while Rasa was down), and fails sending its greeting to no channel.
        if await self._is_new(conversation_id):
            events = [{"event": "action", "name": "action_session_start"}, {"event": "session_started"}, *events]
        try:
            response = await self._http.post(
                f"{self._base}/conversations/{conversation_id}/tracker/events",
                params={"token": self._settings.rasa_token}, json=events,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc

    async def _is_new(self, conversation_id: str) -> bool:
        # Asked of the tracker store itself: Rasa's API answers for an unknown conversation with a
        # session it has just made up in memory.
        return not await asyncio.to_thread(rasa_events.has_events, self._settings.tracker_db_url, conversation_id)

    async def readiness(self) -> Optional[str]:
        """None when Rasa has a model loaded and the action server answers, else the reason."""
        try:
            status = await self._http.get(f"{self._base}/status", params={"token": self._settings.rasa_token},
                                          timeout=3)
            if status.status_code != 200 or not status.json().get("model_file"):
                return f"rasa server: no model loaded (HTTP {status.status_code})"
        except httpx.HTTPError as exc:
            return f"rasa server unreachable: {type(exc).__name__}"
        try:
            health = await self._http.get(f"{self._actions}/health", timeout=3)
            if health.status_code != 200:
                return f"action server: HTTP {health.status_code}"
        except httpx.HTTPError as exc:
            return f"action server unreachable: {type(exc).__name__}"
        return None
