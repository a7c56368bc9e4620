"""Starts the real rasa server and action server as child processes, for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import requests
from cryptography.fernet import Fernet

from bot.ops.processes import action_server_command, gateway_command, rasa_environment, rasa_server_command
from bot.ops.training import train_model
from bot.settings import REPO_ROOT, Settings, load_settings

READY_TIMEOUT = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.processes: Dict[str, subprocess.Popen] = {}
        self.ready_seconds: Optional[float] = None

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.gateway_port}"

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.internal_api_port}"

    @property
    def rest_url(self) -> str:
        return f"{self.rasa_url}/webhooks/gateway/webhook"

    @property
    def channel_headers(self) -> dict:
        """What the gateway's channel into Rasa wants on every request."""
        return {"Authorization": f"Bearer {self.settings.rasa_channel_token}"}

    def send(self, sender: str, message: str, timeout: float = 30) -> list:
        response = requests.post(self.rest_url, json={"sender": sender, "message": message}, timeout=timeout,
                                 headers=self.channel_headers)
        response.raise_for_status()
        return response.json()

    def events(self, conversation_id: str) -> list:
        response = requests.get(f"{self.rasa_url}/conversations/{conversation_id}/tracker",
                                params={"token": self.settings.rasa_token}, timeout=10)
        response.raise_for_status()
        return response.json()["events"]

    def _start(self, name: str, command: List[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=rasa_environment(self.settings), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def start_actions(self) -> subprocess.Popen:
        return self._start("actions", action_server_command(self.settings))

    def start_rasa(self, model: str) -> subprocess.Popen:
        return self._start("rasa", rasa_server_command(model, self.settings))

    def start_gateway(self) -> subprocess.Popen:
        """The gateway as its own process, as in production; waits until it reports ready."""
        process = self._start("gateway", gateway_command(self.settings))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the gateway exited early; see {self.log_dir / 'gateway.log'}")
            try:
                if requests.get(f"{self.gateway_url}/readyz", timeout=2).ok:
                    return process
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("the gateway did not become ready in 30 s")

    def stop_gateway(self) -> None:
        """Stop just the gateway (to test what visitors see when it goes away)."""
        process = self.processes.pop("gateway")
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)

    def wait_ready(self) -> None:
        started = time.monotonic()
        deadline = started + READY_TIMEOUT
        while time.monotonic() < deadline:
            for process in self.processes.values():
                if process.poll() is not None:
                    raise RuntimeError(f"a server exited early; see logs in {self.log_dir}")
            try:
                status = requests.get(f"{self.rasa_url}/status", params={"token": self.settings.rasa_token},
                                      timeout=2)
                health = requests.get(f"http://127.0.0.1:{self.settings.action_port}/health", timeout=2)
                if status.ok and status.json().get("model_file") and health.ok:
                    self.ready_seconds = time.monotonic() - started
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"servers not ready after {READY_TIMEOUT} s; see logs in {self.log_dir}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()


@contextmanager
def running_stack(tracker_db_url: str, log_dir: Path, with_gateway: bool = False, model: Optional[Path] = None,
                  **settings: Any) -> Iterator[Stack]:
    """The three servers on free ports; `settings` overrides any setting (e.g. redis_url).
    `model` defaults to the one trained on the current data, live or not: tests test this checkout."""
    model = model or train_model()
    log_dir.mkdir(parents=True, exist_ok=True)
    # The app DB lives in its own scratch directory, so two test sessions never share one.
    with tempfile.TemporaryDirectory(prefix="engage-app-db-") as scratch:
        # `_env_file=None`: a developer's .env must not change what the tests see.
        chosen = load_settings(**{
            "_env_file": None, "tracker_db_url": tracker_db_url, "rasa_token": "test-token-123",
            "app_db_url": f"sqlite:///{Path(scratch) / 'app.db'}", "contact_key": Fernet.generate_key().decode(),
            "rasa_port": free_port(), "action_port": free_port(), "gateway_port": free_port(),
            "internal_api_port": free_port(),
            # Every simulated visitor comes from 127.0.0.1: per-client limits would count them as one.
            "messages_per_minute_per_client": 1_000_000, "new_conversations_per_hour_per_client": 1_000_000,
            **settings,
        })
        stack = Stack(chosen, log_dir)
        try:
            stack.start_actions()
            stack.start_rasa(str(model))
            stack.wait_ready()
            if with_gateway:
                stack.start_gateway()
            yield stack
        finally:
            stack.stop()
