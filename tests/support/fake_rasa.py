"""A stand-in for the gateway's RasaClient, for in-process gateway tests that need no rasa server:
`monkeypatch.setattr(bot.gateway.app, "RasaClient", FakeRasa)` before the app starts, then steer it
through `app.state.rasa`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from bot.gateway.rasa_client import RasaClient


class FakeRasa:
    def __init__(self, settings: Any = None, loaded: str = "engage-old.tar.gz") -> None:
        self.loaded = loaded
        self.model_ids = {loaded: f"id-{loaded}"}
        # What the gateway asked of it, in order: ("send", conversation, text), ("wait_idle",), ("load", path).
        self.calls: List[Tuple[Any, ...]] = []
        self.replies: List[Dict[str, Any]] = [{"text": "An answer from the fake Rasa."}]
        # Raised by the next sends, one each, before they succeed.
        self.send_errors: List[Exception] = []
        self.load_error: Optional[Exception] = None
        # A load whose file is named here leaves another model loaded (Rasa "reports something else").
        self.load_leaves: Optional[str] = None
        self.load_gate: Optional[asyncio.Event] = None
        self.status_error: Optional[Exception] = None
        self.hold: Any = None
        self.held_during_load: List[bool] = []
        self.recorded: List[Tuple[str, Dict[str, Any]]] = []

    def sent(self) -> List[str]:
        return [call[2] for call in self.calls if call[0] == "send"]

    async def send(self, conversation_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        self.calls.append(("send", conversation_id, text))
        if self.send_errors:
            raise self.send_errors.pop(0)
        return list(self.replies)

    async def wait_idle(self, seconds: float) -> int:
        self.calls.append(("wait_idle",))
        return 0

    async def status(self) -> Dict[str, Any]:
        if self.status_error is not None:
            raise self.status_error
        return {"model_file": self.loaded, "model_id": self.model_ids.get(self.loaded)}

    # The real client's reading of /status, on the fake's answer.
    loaded_model = RasaClient.loaded_model

    async def load_model(self, model_file: str, timeout: float) -> None:
        self.calls.append(("load", model_file))
        if self.hold is not None:
            self.held_during_load.append(self.hold.held())
        if self.load_gate is not None:
            await self.load_gate.wait()
        if self.load_error is not None:
            raise self.load_error
        self.loaded = self.load_leaves or Path(model_file).name
        self.model_ids.setdefault(self.loaded, f"id-{self.loaded}")

    async def events(self, conversation_id: str) -> List[Dict[str, Any]]:
        return []

    async def resume(self, conversation_id: str, text: Optional[str] = None) -> None:
        return None

    async def record_staff_message(self, conversation_id: str, text: str, staff_name: str) -> None:
        return None

    async def record_assistant_message(self, conversation_id: str, message: Dict[str, Any], sent_by: str) -> None:
        self.recorded.append((conversation_id, message))

    async def readiness(self) -> Optional[str]:
        return None

    async def close(self) -> None:
        return None
