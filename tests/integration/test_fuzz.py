"""Fuzzing the public surface (Hypothesis, bounded): the visitor protocol against the real Rasa
stack, every console form and page, and the internal API. Whatever arrives, the answer is a 4xx,
an error frame or a websocket close with a protocol code — never a 5xx, a 1011 close or a logged
traceback — and the server still answers a normal question afterwards.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.testclient import TestClient

from bot.gateway.app import create_app
from bot.store import handoffs, session_scope
from tests.support.console_client import add_staff, csrf_from, sign_in
from tests.support.sockets import NoFrame, ask, hello, receive

pytestmark = pytest.mark.integration
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=300),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELDS = ["type", "conversation_id", "client_id", "text", "page_url", "display_text", "payload", "messages"]
frame_objects = st.fixed_dictionaries(
    {"type": st.sampled_from(["hello", "message", "ping", "typing", "MESSAGE", "", "x" * 300]) | json_values},
    optional={field: json_values for field in FIELDS[1:]})
frames = (frame_objects.map(lambda frame: ("text", json.dumps(frame)))
          | st.text(max_size=2500).map(lambda text: ("text", text))
          | st.binary(max_size=300).map(lambda data: ("bytes", data)))


def no_tracebacks(caplog) -> None:
    problems = [record.getMessage()[:200] for record in caplog.records
                if record.exc_info or record.levelno >= logging.ERROR]
    assert problems == []


@pytest.fixture(scope="module")
def gateway(stack, tmp_path_factory):
    database = tmp_path_factory.mktemp("fuzz-app-db") / "app.db"
    settings_ = stack.settings.copy(update={"app_db_url": f"sqlite:///{database}", "messages_per_minute": 100_000,
                                            "connections_per_ip": 10_000, "sign_in_failures_per_client": 100_000})
    with TestClient(create_app(settings_), base_url="http://testserver") as client:
        yield client


def send(ws, kind: str, data: Any) -> None:
    if kind == "text":
        ws.send_text(data)
    else:
        ws.send_bytes(data)


def frames_after(ws, seconds: float = 2.0) -> List[Dict[str, Any]]:
    """What the server sends within `seconds`; stops at a close, which must carry a protocol code."""
    seen: List[Dict[str, Any]] = []
    while True:
        try:
            message = receive(ws, seconds)
        except NoFrame:
            return seen
        seen.append(message)
        if message["type"] == "websocket.close":
            assert message.get("code") in (1000, 1003, 1007, 1008, 1009), message
            return seen
        seconds = 0.3


@given(sent=st.lists(frames, min_size=1, max_size=3))
@FUZZ
def test_whatever_a_visitor_sends_gets_a_bounded_answer_and_the_socket_still_answers(gateway, caplog, sent):
    caplog.clear()
    with gateway.websocket_connect("/ws") as ws:
        hello(ws)
        closed = False
        for kind, data in sent:
            send(ws, kind, data)
            seen = frames_after(ws)
            for message in seen:
                if message["type"] == "websocket.send" and "text" in message:
                    frame = json.loads(message["text"])
                    assert frame["type"] != "error" or frame.get("code"), frame
            if seen and seen[-1]["type"] == "websocket.close":
                closed = True
                break
        if not closed:
            assert ask(ws, "do you take insurance")[-1]["type"] == "bot"
    if closed:
        with gateway.websocket_connect("/ws") as ws:
            hello(ws)
            assert ask(ws, "do you take insurance")[-1]["type"] == "bot"
    no_tracebacks(caplog)


# ------------------------------------------------------------------------------ the console

@pytest.fixture(scope="module")
def staff_console(gateway):
    settings_ = gateway.app.state.settings
    add_staff(settings_, email="fuzz-admin@example.org", name="Fuzz", admin=True)
    with session_scope(settings_.app_db_url) as session:
        handoff_id = handoffs.open_handoff(session, f"fuzz-{uuid.uuid4().hex}", "visitor asked", "normal",
                                           "request_human").id
    assert sign_in(gateway, email="fuzz-admin@example.org").status_code == 303
    return handoff_id


ids = st.sampled_from(["1", "0", "-1", "9" * 25, "abc", "1.5", "%00", "١٢"]) | st.integers(0, 10**6).map(str)
FORM_PATHS = ["/console/presence", "/console/handoffs/{id}/claim", "/console/handoffs/{id}/reply",
              "/console/handoffs/{id}/notes", "/console/handoffs/{id}/resolve", "/console/callbacks/{id}/contact",
              "/console/callbacks/{id}/close", "/console/canned", "/console/canned/{id}/delete", "/console/login"]
PAGE_PATHS = ["/console", "/console/queue/rows", "/console/handoffs/{id}", "/console/callbacks",
              "/console/canned", "/console/audit", "/console/login", "/privacy", "/", "/widget.js"]
form_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=3000)
FORM_FIELDS = ["text", "note", "presence", "title", "body", "email", "password", "reason", "outcome", "page"]


@given(path=st.sampled_from(FORM_PATHS), row=ids, with_csrf=st.booleans(),
       fields=st.dictionaries(st.sampled_from(FORM_FIELDS) | st.text(max_size=20), form_text, max_size=5))
@FUZZ
def test_every_console_form_answers_without_a_server_error(gateway, staff_console, caplog, path, row, with_csrf,
                                                           fields):
    caplog.clear()
    if path.endswith("/logout"):
        return
    data = dict(fields)
    if with_csrf:
        data["csrf"] = csrf_from(gateway.get("/console").text)
    answer = gateway.post(path.replace("{id}", row if row != "1" else str(staff_console)), data=data,
                          follow_redirects=False)
    assert answer.status_code < 500, (path, answer.status_code)
    assert gateway.get("/console", follow_redirects=False).status_code in (200, 303)
    no_tracebacks(caplog)


@given(path=st.sampled_from(PAGE_PATHS), row=ids,
       query=st.dictionaries(st.sampled_from(["page", "staff", "q", "status", "since"]) | st.text(max_size=10),
                             form_text, max_size=3))
@FUZZ
def test_every_console_page_answers_without_a_server_error(gateway, staff_console, caplog, path, row, query):
    caplog.clear()
    answer = gateway.get(path.replace("{id}", row), params=query, follow_redirects=False)
    assert answer.status_code < 500, (path, answer.status_code)
    no_tracebacks(caplog)


# ------------------------------------------------------------------------------ the internal API

INTERNAL_PATHS = ["/internal/handoffs", "/internal/handoffs/status", "/internal/callbacks"]
bodies = (st.dictionaries(st.sampled_from(["conversation_id", "reason", "priority", "last_intent", "first_name",
                                           "contact", "best_time"]) | st.text(max_size=12),
                          json_values, max_size=7).map(json.dumps)
          | st.text(max_size=2000) | st.just("[" * 50_000))


@given(path=st.sampled_from(INTERNAL_PATHS), body=bodies)
@FUZZ
def test_the_internal_api_answers_any_body_without_a_server_error(gateway, caplog, path, body):
    caplog.clear()
    port = gateway.app.state.settings.internal_api_port
    answer = gateway.post(f"http://127.0.0.1:{port}{path}", content=body.encode("utf-8", "surrogatepass"),
                          headers={"Authorization": f"Bearer {gateway.app.state.settings.internal_api_token}",
                                   "Content-Type": "application/json"})
    assert answer.status_code < 500, (path, answer.status_code, answer.text[:200])
    no_tracebacks(caplog)
