"""The console never runs database work or argon2 on the gateway's event loop, which also serves
every visitor's websocket (gateway in-process on a SQLite app DB, no Rasa server)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import timeit

import pytest
from sqlalchemy import event, select
from starlette.testclient import TestClient

from bot.gateway.app import create_app
from bot.store import (
    AuditEntry,
    CallbackRequest,
    CannedReply,
    StaffMember,
    engine_for,
    handoffs,
    hash_password,
    session_scope,
    utcnow,
    verify_password,
)
from devtools.local_stack import free_port
from tests.support.console_client import PASSWORD, add_staff, console_settings, post, sign_in

TICK = 0.005


@pytest.fixture
def settings(tmp_path):
    # A port nobody listens on: transcript calls fail fast (503) after the handler's DB work.
    return console_settings(tmp_path, staff_hours="", rasa_port=free_port())


@pytest.fixture
def console(settings):
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        add_staff(settings, admin=True)
        yield client


def add_handoff_and_callback(console, settings):
    cipher = console.app.state.contact_cipher
    with session_scope(settings.app_db_url) as session:
        handoff = handoffs.open_handoff(session, "conv-1", "request_human", "normal", None)
        callback = CallbackRequest(conversation_id="conv-1", first_name_enc=cipher.encrypt("Jordan"),
                                   contact_enc=cipher.encrypt("(314) 555-0142"),
                                   best_time_enc=cipher.encrypt("mornings"), consented_at=utcnow())
        session.add(callback)
        session.flush()
        return handoff.id, callback.id


def use_every_console_route(console, settings, handoff_id, callback_id):
    """Each console page, form, sign-in outcome and live-socket action once, with the status it must give."""
    assert sign_in(console, password="not the password").status_code == 401
    assert sign_in(console, email="nobody@example.org").status_code == 401
    assert sign_in(console).status_code == 303
    assert console.get("/console/login", follow_redirects=False).status_code == 303
    assert console.get("/console").status_code == 200
    assert console.get("/console/queue/rows").status_code == 200
    assert post(console, "/console/presence", presence="away").status_code == 303
    conversation = f"/console/handoffs/{handoff_id}"
    assert post(console, f"{conversation}/claim").status_code == 303
    assert post(console, f"{conversation}/notes", text="asked about insurance").status_code == 303
    assert console.get(conversation).status_code == 503
    assert post(console, f"{conversation}/reply", text="hello").status_code == 503
    assert post(console, f"{conversation}/resolve").status_code == 503
    assert console.get("/console/callbacks").status_code == 200
    assert post(console, f"/console/callbacks/{callback_id}/contact").status_code == 200
    assert post(console, f"/console/callbacks/{callback_id}/close").status_code == 303
    assert post(console, "/console/canned", title="Hours", text="We answer 8 to 8.").status_code == 303
    with session_scope(settings.app_db_url) as session:
        reply_id = session.execute(select(CannedReply.id)).scalar_one()
    assert console.get("/console/canned").status_code == 200
    assert post(console, f"/console/canned/{reply_id}/delete").status_code == 303
    assert console.get("/console/audit").status_code == 200
    with console.websocket_connect("/console/ws", headers={"origin": "http://testserver"}) as socket:
        socket.send_text('{"type":"ping"}')
        assert socket.receive_json() == {"type": "pong"}
        console.portal.call(console.app.state.staff_hub.visitor_wrote, "conv-1", "still there?", 1.0)
        assert socket.receive_json()["type"] == "message"
    assert post(console, "/console/logout").status_code == 303


def test_no_console_route_runs_sql_on_the_event_loop(console, settings):
    handoff_id, callback_id = add_handoff_and_callback(console, settings)
    loop_thread = console.portal.call(threading.get_ident)
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((threading.get_ident(), statement))

    engine = engine_for(settings.app_db_url)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        use_every_console_route(console, settings, handoff_id, callback_id)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    on_loop = [statement for thread, statement in statements if thread == loop_thread]
    assert on_loop == []
    # Not vacuous: the routes did their database work, in worker threads.
    assert len(statements) > 50
    with session_scope(settings.app_db_url) as session:
        actions = set(session.execute(select(AuditEntry.action)).scalars())
    assert {"console.login_failed", "console.login", "console.note", "console.view_contact",
            "console.delete_canned", "console.view_audit", "console.logout"} <= actions


def sign_in_afresh(console, **credentials) -> int:
    console.cookies.clear()
    return sign_in(console, **credentials).status_code


async def worst_loop_lag(stop: threading.Event) -> float:
    """How late the loop woke a task sleeping TICK at a time, at worst, until `stop` is set."""
    worst = 0.0
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(TICK)
        worst = max(worst, time.perf_counter() - started - TICK)
    return worst


def test_signing_in_and_refreshing_the_queue_leave_the_event_loop_free(console, monkeypatch):
    from argon2 import PasswordHasher

    from bot.store import passwords

    # argon2-cffi's costlier defaults (~190 ms a check): a check run on the loop would stand far above
    # the noise of a loaded machine, which the production setting's ~25 ms would not.
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(parallelism=1))
    known_hash = hash_password(PASSWORD)
    with session_scope(console.app.state.hub.settings.app_db_url) as session:
        for member in session.execute(select(StaffMember)).scalars():
            member.password_hash = known_hash
    argon2_seconds = min(timeit.repeat(lambda: verify_password(known_hash, PASSWORD), number=1, repeat=3))
    # The first round compiles the templates; only later rounds are measured.
    assert sign_in_afresh(console) == 303
    assert console.get("/console").status_code == 200
    # A full garbage collection of this test process (with Rasa's imports loaded) holds every thread for
    # ~0.3 s; that is not the code under test, so none runs while the loop is probed.
    gc.collect()
    gc.disable()
    stop = threading.Event()
    probe = console.portal.start_task_soon(worst_loop_lag, stop)
    try:
        for _ in range(3):
            assert sign_in_afresh(console, password="not the password") == 401
            assert sign_in_afresh(console) == 303
            assert console.get("/console").status_code == 200
            assert console.get("/console/queue/rows").status_code == 200
    finally:
        stop.set()
        gc.enable()
    lag = probe.result(timeout=10)
    print(f"argon2 verify {argon2_seconds * 1000:.0f} ms, worst event-loop lag {lag * 1000:.1f} ms")
    # Each sign-in verifies one argon2 hash: had one run on the loop, the lag would be at least that.
    assert lag < argon2_seconds / 2


def test_sign_ins_run_below_the_chat_and_on_one_core(settings):
    import os

    from bot.gateway.console import auth

    niceness = auth._SIGN_IN_THREAD.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert niceness.result(timeout=10) == os.getpriority(os.PRIO_PROCESS, 0) + auth.SIGN_IN_NICENESS
    assert "$m=19456,t=2,p=1$" in hash_password(PASSWORD)


def test_a_password_hashed_with_older_settings_still_signs_in_and_is_rehashed(settings):
    from argon2 import PasswordHasher

    with TestClient(create_app(settings)) as console:
        staff_id = add_staff(settings)
        with session_scope(settings.app_db_url) as session:
            # argon2-cffi's defaults, which this project used before (64 MiB, 3 passes, 4 lanes)
            session.get(StaffMember, staff_id).password_hash = PasswordHasher().hash(PASSWORD)
        assert sign_in(console).status_code == 303
    with session_scope(settings.app_db_url) as session:
        rehashed = session.get(StaffMember, staff_id).password_hash
    assert "$m=19456,t=2,p=1$" in rehashed and verify_password(rehashed, PASSWORD)
