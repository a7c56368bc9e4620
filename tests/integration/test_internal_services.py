"""The loopback services want their secrets, and the public listener bounds what clients send.

Against the real stack: Rasa serves only the gateway's token-protected channel (not its open REST
channel), the action server refuses calls without Rasa's token and listens on loopback only, the
gateway closes a connection that drips its headers, refuses oversized heads, and does not believe
X-Forwarded-For from a client that is not a configured proxy. Every read has a deadline.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import time
import uuid

import pytest
import requests

from devtools.local_stack import running_stack
from tests.conftest import ARTIFACTS

HEAD_SECONDS = 2.0


@pytest.fixture(scope="module")
def stack(postgres_database):
    with running_stack(postgres_database, ARTIFACTS / "server-logs-internal", with_gateway=True,
                       request_head_seconds=HEAD_SECONDS, sign_in_failures_per_client=3) as running:
        yield running


def python_version_of(pid: int) -> str:
    """The major.minor of the interpreter the kernel runs as this process (/proc/<pid>/exe)."""
    executable = os.readlink(f"/proc/{pid}/exe")
    return subprocess.run([executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=True, timeout=30).stdout.strip()


def test_the_gateway_and_action_server_run_python_3_11_and_rasa_3_10(stack):
    processes = stack.processes
    assert set(processes) == {"rasa", "actions", "gateway"}
    versions = {name: python_version_of(process.pid) for name, process in processes.items()}
    assert versions == {"rasa": "3.10", "actions": "3.11", "gateway": "3.11"}
    # From .venv-public (requirements-public.lock), not merely some Python 3.11.
    for name in ("actions", "gateway"):
        argv0 = open(f"/proc/{processes[name].pid}/cmdline", "rb").read().split(b"\0")[0].decode()
        assert argv0 == str(stack.settings.public_python), name


def action_call(action: str, sender: str) -> dict:
    """What Rasa posts to the action server to run one action."""
    latest = {"text": "hi", "intent": {"name": "greet", "confidence": 1.0}, "entities": []}
    return {"next_action": action, "sender_id": sender, "version": "3.6.21", "domain": {},
            "tracker": {"sender_id": sender, "slots": {}, "latest_message": latest, "events": [],
                        "paused": False, "followup_action": None, "active_loop": {},
                        "latest_action_name": "action_listen"}}


def test_rasas_open_rest_channel_is_not_served(stack, sender):
    answer = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": "hi"},
                           timeout=10)
    assert answer.status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-channel-token"}],
                         ids=["no-token", "wrong-token"])
def test_the_gateway_channel_refuses_without_its_token(stack, sender, headers):
    answer = requests.post(stack.rest_url, json={"sender": sender, "message": "i want to kill myself"},
                           headers=headers, timeout=10)
    assert answer.status_code == 401
    assert stack.events(sender) == [] or all(event["event"] != "user" for event in stack.events(sender))


def test_the_gateway_channel_answers_with_its_token(stack, sender):
    assert stack.send(sender, "what is iop")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-action-token"}],
                         ids=["no-token", "wrong-token"])
def test_the_action_server_refuses_calls_without_rasas_token(stack, headers):
    url = f"http://127.0.0.1:{stack.settings.action_port}/webhook"
    answer = requests.post(url, json=action_call("action_open_urgent_handoff", f"invented-{uuid.uuid4().hex}"),
                           headers=headers, timeout=10)
    assert answer.status_code == 401
    assert requests.get(f"http://127.0.0.1:{stack.settings.action_port}/health", timeout=5).ok


def test_the_action_server_runs_actions_for_rasa(stack):
    url = f"http://127.0.0.1:{stack.settings.action_port}/webhook"
    answer = requests.post(url, json=action_call("action_answer_knowledge", f"t-{uuid.uuid4().hex}"),
                           headers={"Authorization": f"Bearer {stack.settings.action_server_token}"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["responses"]


def non_loopback_address() -> str:
    output = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, timeout=10).stdout
    addresses = [found for found in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)", output) if not found.startswith("127.")]
    assert addresses, "this test needs a non-loopback IPv4 address on the machine"
    return addresses[0]


@pytest.mark.parametrize("port_of", [lambda s: s.action_port, lambda s: s.rasa_port, lambda s: s.internal_api_port],
                         ids=["action-server", "rasa", "internal-api"])
def test_the_loopback_services_do_not_listen_on_other_addresses(stack, port_of):
    with pytest.raises(OSError):
        socket.create_connection((non_loopback_address(), port_of(stack.settings)), timeout=3).close()


def read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    received = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the connection was still open at the deadline (got {received[:80]!r})")


def test_a_client_dripping_its_headers_is_disconnected(stack):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", stack.settings.gateway_port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for number in range(int(HEAD_SECONDS * 4)):
            try:
                sock.sendall(f"X-Drip-{number}: a\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.5)
        if not closed:
            read_until_closed(sock, time.monotonic() + 2)
    assert time.monotonic() - started < HEAD_SECONDS + 3
    assert requests.get(f"{stack.gateway_url}/healthz", timeout=5).ok


def test_a_silent_connection_is_closed_too(stack):
    with socket.create_connection(("127.0.0.1", stack.settings.gateway_port), timeout=5) as sock:
        read_until_closed(sock, time.monotonic() + HEAD_SECONDS + 3)


def test_a_slow_but_steady_visitor_and_keep_alive_still_work(stack):
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(f"{stack.gateway_url}/healthz", timeout=5).ok
            time.sleep(HEAD_SECONDS / 2)


@pytest.mark.parametrize("size", [20 * 1024, 60 * 1024, 8 * 1024 * 1024], ids=["20k", "60k", "8M"])
def test_an_oversized_request_head_is_refused(stack, size):
    try:
        answer = requests.get(f"{stack.gateway_url}/healthz", headers={"X-Big": "a" * size}, timeout=10)
        assert answer.status_code in (400, 431)
    except requests.ConnectionError:
        pass  # refused mid-send: the server closed the connection before reading it all
    assert requests.get(f"{stack.gateway_url}/healthz", timeout=5).ok


def failed_sign_in(session: requests.Session, stack, forwarded_for: str) -> requests.Response:
    page = session.get(f"{stack.gateway_url}/console/login", timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return session.post(f"{stack.gateway_url}/console/login", timeout=10, allow_redirects=False,
                        headers={"X-Forwarded-For": forwarded_for},
                        data={"csrf": token, "email": "nobody@example.org", "password": "wrong password here"})


def test_x_forwarded_for_from_an_untrusted_client_does_not_change_who_it_is(stack):
    with requests.Session() as session:
        answers = [failed_sign_in(session, stack, f"203.0.113.{number}").status_code for number in range(4)]
    assert answers == [401, 401, 401, 429]


def test_a_failing_action_logs_neither_the_conversation_nor_answers_with_it(stack):
    canary = f"canary-{uuid.uuid4().hex}"
    call = action_call("action_answer_knowledge", f"t-{uuid.uuid4().hex}")
    call["tracker"]["latest_message"] = {"text": canary, "intent": "not a dictionary", "entities": "nor a list"}
    answer = requests.post(f"http://127.0.0.1:{stack.settings.action_port}/webhook", json=call, timeout=10,
                           headers={"Authorization": f"Bearer {stack.settings.action_server_token}"})
    assert answer.status_code == 500 and canary not in answer.text
    assert answer.json()["action_name"] == "action_answer_knowledge"
    time.sleep(0.5)
    log = (stack.log_dir / "actions.log").read_text(encoding="utf-8", errors="replace")
    assert "action action_answer_knowledge failed" in log and canary not in log


def raw_websocket(port: int) -> socket.socket:
    """A websocket opened by hand, so a test can send frames no client library would."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head[:80]
    return sock


def masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    return (bytes([0x80 | opcode, 0x80 | len(payload)]) + mask
            + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload)))


def test_invalid_utf8_closes_the_socket_with_1007(stack):
    sock = raw_websocket(stack.settings.gateway_port)
    with sock:
        sock.sendall(masked_frame(0x1, b'{"type": "hello", "text": "\xff\xfe"}'))
        received = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (len(received) >= 4 and received[0] & 0x0F == 0x8):
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    assert received[0] & 0x0F == 0x8, received[:20]
    assert int.from_bytes(received[2:4], "big") == 1007
    assert requests.get(f"{stack.gateway_url}/healthz", timeout=5).ok
