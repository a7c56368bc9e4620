"""The console refuses everyone who is not signed in, every form without its CSRF token, and
cross-site websocket connections; its pages carry the headers health records need; only admins
read the audit log. The gateway runs in-process; the visitor side is in test_gateway.py."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.gateway.app import create_app
from bot.gateway.console.live import NOT_SIGNED_IN, WRONG_ORIGIN
from bot.store import handoffs, session_scope
from tests.support.console_client import add_staff, audit_actions, console_settings, csrf_from, post, sign_in
from tests.support.sockets import receive_json, receive_text

PUBLIC = ("/console/login", "/console/static")


@pytest.fixture
def settings(tmp_path):
    return console_settings(tmp_path)


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def console(app, settings):
    with TestClient(app, base_url="http://testserver") as client:
        add_staff(settings)
        with session_scope(settings.app_db_url) as session:
            handoffs.open_handoff(session, "conv-1", "visitor asked for a person", "normal", "request_human")
        yield client


def console_routes(app, kind):
    found = []
    for route in app.routes:
        if isinstance(route, kind) and route.path.startswith("/console") and not route.path.startswith(PUBLIC):
            path = re.sub(r"\{\w+:row_id\}", "1", route.path)
            methods = getattr(route, "methods", None) or {"WS"}
            found.extend((method, path) for method in methods if method != "HEAD")
    return sorted(found)


def test_the_console_has_the_routes_this_file_checks(app):
    # If a route is added, it is covered below automatically; this guards against the list going empty.
    routes = console_routes(app, Route)
    assert ("GET", "/console/audit") in routes and ("POST", "/console/handoffs/1/notes") in routes
    assert len(routes) >= 15


def test_every_console_page_sends_strangers_to_sign_in(app, console):
    for method, path in console_routes(app, Route):
        if method == "GET":
            response = console.get(path, follow_redirects=False)
            assert (response.status_code, response.headers.get("location")) == (303, "/console/login"), path


def test_every_console_form_refuses_strangers(app, console, settings):
    for method, path in console_routes(app, Route):
        if method == "POST":
            assert console.post(path, data={"csrf": "anything", "text": "x", "title": "x"},
                                follow_redirects=False).status_code == 403, path
    assert not [action for action in audit_actions(settings) if not action.startswith("handoff.")]


def test_every_console_form_refuses_a_signed_in_person_without_the_token(app, console, settings):
    sign_in(console)
    before = audit_actions(settings)
    for method, path in console_routes(app, Route):
        if method == "POST":
            for fields in ({}, {"csrf": "not-the-token"}):
                response = console.post(path, data={**fields, "text": "x", "title": "x", "presence": "away"},
                                        follow_redirects=False)
                assert response.status_code == 403, (path, fields)
    assert audit_actions(settings) == before
    with session_scope(settings.app_db_url) as session:
        assert handoffs.queue(session)[0].status == "waiting"


def test_the_live_socket_refuses_strangers_and_other_sites(console):
    with pytest.raises(WebSocketDisconnect) as refused:
        with console.websocket_connect("/console/ws", headers={"origin": "http://testserver"}) as socket:
            receive_text(socket)
    assert refused.value.code == NOT_SIGNED_IN
    sign_in(console)
    with pytest.raises(WebSocketDisconnect) as cross_site:
        with console.websocket_connect("/console/ws", headers={"origin": "https://evil.example"}) as socket:
            receive_text(socket)
    assert cross_site.value.code == WRONG_ORIGIN
    with console.websocket_connect("/console/ws", headers={"origin": "http://testserver"}) as socket:
        socket.send_text('{"type":"ping"}')
        assert receive_json(socket) == {"type": "pong"}


def test_console_pages_are_not_cached_framed_or_open_to_inline_script(console):
    sign_in(console)
    for path in ("/console", "/console/login", "/console/callbacks"):
        headers = console.get(path).headers
        assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]


def test_only_admins_read_the_audit_log(console, settings):
    sign_in(console)
    assert console.get("/console/audit").status_code == 403
    add_staff(settings, email="boss@example.org", name="Bea", admin=True)
    post(console, "/console/logout")
    sign_in(console, email="boss@example.org")
    page = console.get("/console/audit")
    assert page.status_code == 200 and "console.login" in page.text and "Ana" in page.text
    assert "console.view_audit" in audit_actions(settings)
    assert console.get("/console/audit?page=x").status_code == 400


def test_the_audit_log_filters_by_conversation(console, settings):
    add_staff(settings, email="boss@example.org", name="Bea", admin=True)
    sign_in(console, email="boss@example.org")
    post(console, "/console/handoffs/1/claim")
    page = console.get("/console/audit?conversation=conv-1").text
    assert "handoff.claim" in page and "console.login" not in page


def test_a_stale_form_token_from_the_sign_in_page_is_not_a_session_token(console):
    login_token = csrf_from(console.get("/console/login").text)
    sign_in(console)
    response = console.post("/console/handoffs/1/claim", data={"csrf": login_token}, follow_redirects=False)
    assert response.status_code == 403
