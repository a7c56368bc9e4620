"""Hostile input on the console gets a 4xx page, never a 500: non-ASCII CSRF tokens and ids too
long for the database (issue 11). TestClient re-raises any server exception, so a crash fails here."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from bot.gateway.app import create_app
from tests.support.console_client import add_staff, console_settings, csrf_from, post, sign_in

TOO_LONG = "9" * 25


@pytest.fixture
def settings(tmp_path):
    return console_settings(tmp_path)


@pytest.fixture
def console(settings):
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        add_staff(settings, admin=True)
        yield client


def still_answers(console) -> None:
    assert console.get("/console/login").status_code == 200


@pytest.mark.parametrize("token", ["é" * 43, "\u200b", "ß-token", "😀"])
def test_a_non_ascii_csrf_token_on_sign_in_is_refused(console, token):
    console.get("/console/login")  # sets the CSRF cookie the form's token is checked against
    response = console.post("/console/login", data={"csrf": token, "email": "ana@example.org",
                                                    "password": "whatever"}, follow_redirects=False)
    assert 400 <= response.status_code < 500
    still_answers(console)


def test_a_non_ascii_csrf_token_on_a_signed_in_form_is_refused(console):
    assert sign_in(console).status_code == 303
    response = console.post("/console/presence", data={"csrf": "é", "presence": "online"}, follow_redirects=False)
    assert 400 <= response.status_code < 500
    assert console.get("/console").status_code == 200


@pytest.mark.parametrize("path", [f"/console/handoffs/{TOO_LONG}", f"/console/handoffs/{TOO_LONG}/claim"])
def test_an_id_too_long_for_the_database_is_not_found(console, path):
    assert sign_in(console).status_code == 303
    response = console.get(path) if path.count("/") == 3 else post(console, path)
    assert response.status_code == 404
    assert console.get("/console").status_code == 200


def test_a_callback_id_too_long_for_the_database_is_not_found(console):
    assert sign_in(console).status_code == 303
    token = csrf_from(console.get("/console").text)
    response = console.post(f"/console/callbacks/{TOO_LONG}/contact", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 404


@pytest.mark.parametrize("query", [f"page={TOO_LONG}", f"staff={TOO_LONG}", "page=-5", "page=x", "page="])
def test_the_audit_log_answers_a_bad_page_or_staff_filter(console, query):
    assert sign_in(console).status_code == 303
    response = console.get(f"/console/audit?{query}")
    assert response.status_code in (200, 400)
    if query.endswith(TOO_LONG) or query == "page=x":
        assert response.status_code == 400
    assert console.get("/console/audit").status_code == 200
