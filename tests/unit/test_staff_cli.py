"""The staff account command: add, list, duplicates, short passwords, reset and unlock."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.cli import staff as staff_cli
from bot.store import AuditEntry, StaffMember, dispose_engines, session_scope, utcnow, verify_password

PASSWORD = "correct horse battery"


@pytest.fixture
def url(tmp_path):
    yield f"sqlite:///{tmp_path / 'app.db'}"
    dispose_engines()


def run(url, monkeypatch, *args, stdin=""):
    """Run the command as a script would, with the password piped on stdin."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return staff_cli.main(["--db-url", url, *args])


def member(url, email="ana@example.org") -> StaffMember:
    with session_scope(url) as session:
        return session.execute(select(StaffMember).where(StaffMember.email == email)).scalar_one()


def add_ana(url, monkeypatch, *extra):
    return run(url, monkeypatch, "add", "--email", "Ana@Example.org", "--name", "Ana", *extra, stdin=PASSWORD + "\n")


def test_add_stores_an_argon2_hash_and_list_shows_the_account(url, monkeypatch, capsys):
    assert run(url, monkeypatch, "list") == 0
    assert "no staff accounts yet" in capsys.readouterr().out

    assert add_ana(url, monkeypatch, "--admin") == 0
    assert "added ana@example.org (admin)" in capsys.readouterr().out
    ana = member(url)
    assert ana.display_name == "Ana" and ana.is_admin and ana.presence == "offline"
    assert ana.password_hash.startswith("$argon2id$") and PASSWORD not in ana.password_hash
    assert verify_password(ana.password_hash, PASSWORD)
    assert not verify_password(ana.password_hash, PASSWORD + "!")

    assert run(url, monkeypatch, "list") == 0
    assert capsys.readouterr().out.splitlines() == ["ana@example.org\tAna\toffline\tadmin"]


def test_a_duplicate_email_is_refused_whatever_its_case(url, monkeypatch, capsys):
    assert add_ana(url, monkeypatch) == 0
    assert run(url, monkeypatch, "add", "--email", "ANA@example.org", "--name", "Other", stdin=PASSWORD) == 1
    assert "error: a staff member with email ana@example.org already exists" in capsys.readouterr().err
    assert member(url).display_name == "Ana"


@pytest.mark.parametrize("password", ["", "short", "eleven char"])
def test_a_short_password_is_refused(url, monkeypatch, capsys, password):
    assert run(url, monkeypatch, "add", "--email", "ben@example.org", "--name", "Ben", stdin=password + "\n") == 1
    assert "error: the password must be at least 12 characters long" in capsys.readouterr().err
    run(url, monkeypatch, "list")
    assert "no staff accounts yet" in capsys.readouterr().out


def test_an_invalid_email_is_refused(url, monkeypatch, capsys):
    assert run(url, monkeypatch, "add", "--email", "ana", "--name", "Ana", stdin=PASSWORD) == 1
    assert "error: 'ana' is not an email address" in capsys.readouterr().err


def test_on_a_terminal_the_password_is_asked_twice_and_must_match(url, monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD + " typo"])
    monkeypatch.setattr(staff_cli.sys, "stdin", type("Terminal", (), {"isatty": lambda self: True})())
    monkeypatch.setattr(staff_cli.getpass, "getpass", lambda prompt: next(answers))
    assert staff_cli.main(["--db-url", url, "add", "--email", "ana@example.org", "--name", "Ana"]) == 1
    assert "error: the two passwords differ" in capsys.readouterr().err

    answers = iter([PASSWORD, PASSWORD])
    assert staff_cli.main(["--db-url", url, "add", "--email", "ana@example.org", "--name", "Ana"]) == 0
    assert verify_password(member(url).password_hash, PASSWORD)


def test_reset_password_replaces_the_hash(url, monkeypatch, capsys):
    add_ana(url, monkeypatch)
    new_password = "a different long passphrase"
    assert run(url, monkeypatch, "reset-password", "--email", "ana@example.org", stdin=new_password + "\n") == 0
    assert "new password set for ana@example.org" in capsys.readouterr().out
    ana = member(url)
    assert verify_password(ana.password_hash, new_password) and not verify_password(ana.password_hash, PASSWORD)

    assert run(url, monkeypatch, "reset-password", "--email", "ana@example.org", stdin="tiny\n") == 1
    assert "at least 12 characters" in capsys.readouterr().err
    assert verify_password(member(url).password_hash, new_password)


def test_unlock_clears_failed_logins_and_the_lock(url, monkeypatch, capsys):
    add_ana(url, monkeypatch)
    with session_scope(url) as session:
        ana = session.execute(select(StaffMember)).scalar_one()
        ana.failed_logins, ana.locked_until = 5, utcnow() + timedelta(minutes=15)
    run(url, monkeypatch, "list")
    assert "locked until" in capsys.readouterr().out

    assert run(url, monkeypatch, "unlock", "--email", "ana@example.org") == 0
    assert "unlocked ana@example.org" in capsys.readouterr().out
    ana = member(url)
    assert (ana.failed_logins, ana.locked_until) == (0, None)


@pytest.mark.parametrize("command", ["reset-password", "unlock"])
def test_an_unknown_email_is_reported(url, monkeypatch, capsys, command):
    assert run(url, monkeypatch, command, "--email", "nobody@example.org", stdin=PASSWORD) == 1
    assert "error: no staff member with email nobody@example.org" in capsys.readouterr().err


def test_every_account_change_is_audited_without_secrets(url, monkeypatch):
    add_ana(url, monkeypatch)
    run(url, monkeypatch, "reset-password", "--email", "ana@example.org", stdin="a different long passphrase")
    run(url, monkeypatch, "unlock", "--email", "ana@example.org")
    with session_scope(url) as session:
        entries = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    ana_id = member(url).id
    assert [(entry.action, entry.staff_id, entry.detail) for entry in entries] == [
        (action, None, f"staff member {ana_id} via the command line")
        for action in ("staff.add", "staff.reset_password", "staff.unlock")
    ]


def test_the_bot_command_line_runs_the_staff_commands(tmp_path):
    import os
    import subprocess
    import sys

    from bot.settings import REPO_ROOT

    url = f"sqlite:///{tmp_path / 'app.db'}"
    added = subprocess.run(
        [sys.executable, "-m", "bot", "staff", "--db-url", url, "add", "--email", "ana@example.org", "--name", "Ana"],
        cwd=REPO_ROOT, input="a long enough password\n", capture_output=True, text=True, env=dict(os.environ),
    )
    assert added.returncode == 0, added.stderr
    listed = subprocess.run([sys.executable, "-m", "bot", "staff", "--db-url", url, "list"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert "ana@example.org" in listed.stdout


def test_disable_ends_sessions_takes_the_account_offline_and_enable_undoes_it(url, monkeypatch, capsys):
    add_ana(url, monkeypatch)
    with session_scope(url) as session:
        session.execute(select(StaffMember)).scalar_one().presence = "online"
    assert run(url, monkeypatch, "disable", "--email", "ana@example.org") == 0
    ana = member(url)
    assert ana.disabled_at is not None and ana.sessions_revoked_at is not None and ana.presence == "offline"
    capsys.readouterr()
    assert run(url, monkeypatch, "list") == 0
    assert "disabled since" in capsys.readouterr().out
    assert run(url, monkeypatch, "enable", "--email", "ana@example.org") == 0
    assert member(url).disabled_at is None
    assert run(url, monkeypatch, "disable", "--email", "nobody@example.org") == 1
    with session_scope(url) as session:
        actions = session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions[-2:] == ["staff.disable", "staff.enable"]


def test_a_password_reset_ends_every_session(url, monkeypatch):
    add_ana(url, monkeypatch)
    assert member(url).sessions_revoked_at is None
    assert run(url, monkeypatch, "reset-password", "--email", "ana@example.org", stdin="another long password\n") == 0
    assert member(url).sessions_revoked_at is not None
