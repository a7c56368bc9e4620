"""The console's models page (bot/gateway/console/models_page.py): maintainers and admins only; the
live model, the one it replaced and every trained model with its evaluation; Deploy only for models
that passed the gate, no force from the console; one-click roll back; the history; the charts; and
the internal API the CLI uses. The gateway runs in-process with Rasa faked (tests/support/fake_rasa.py)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from bot.gateway import app as gateway_app
from bot.gateway.rasa_client import RasaUnavailable
from bot.store import ModelDeployment, StaffMember, session_scope
from tests.support.console_client import add_staff, audit_actions, csrf_from, post, sign_in
from tests.support.fake_rasa import FakeRasa
from tests.support.trained_models import FAILED, PASSED, models_settings, trained

PNG = b"\x89PNG\r\n\x1a\n not a real chart"
INTERNAL = {"authorization": "Bearer dev-internal-token-change-me"}


@pytest.fixture
def settings(tmp_path):
    return models_settings(tmp_path)


@pytest.fixture
def console(settings, monkeypatch):
    monkeypatch.setattr(gateway_app, "RasaClient", FakeRasa)
    (settings.models_dir / "engage-new.confusion.png").write_bytes(PNG)
    (settings.models_dir / "engage-old.f1.png").write_bytes(PNG)
    with TestClient(gateway_app.create_app(settings), base_url="http://testserver") as client:
        add_staff(settings, email="ana@example.org", name="Ana")
        maintainer = add_staff(settings, email="mo@example.org", name="Mo")
        add_staff(settings, email="bea@example.org", name="Bea", admin=True)
        with session_scope(settings.app_db_url) as session:
            session.execute(update(StaffMember).where(StaffMember.id == maintainer).values(is_maintainer=True))
        yield client


def seed(settings, *rows):
    """ModelDeployment rows: (kind, model, previous, by, evaluation)."""
    with session_scope(settings.app_db_url) as session:
        for number, (kind, model, previous, by, evaluation) in enumerate(rows):
            session.add(ModelDeployment(kind=kind, model_name=model, previous_model=previous, deployed_by=by,
                                        deployed_at=datetime(2026, 11, 2 + number, 9, 30, tzinfo=timezone.utc),
                                        evaluation=json.dumps(evaluation) if evaluation else None))


def row_of(page: str, model: str) -> str:
    return re.search(rf'<tr data-model="{model}">(.*?)</tr>', page, re.S).group(1)


def loads(console):
    return [call for call in console.app.state.rasa.calls if call[0] == "load"]


def test_a_staff_member_without_the_maintainer_role_is_refused_everywhere(console):
    sign_in(console, email="ana@example.org")
    page = console.get("/console/models")
    assert page.status_code == 403 and "Maintainers only" in page.text and "maintainer role" in page.text
    assert "engage-new" not in page.text
    for path, fields in (("/console/models/deploy", {"model": "engage-new"}), ("/console/models/rollback", {})):
        refused = post(console, path, **fields)
        assert refused.status_code == 403 and "Maintainers only" in refused.text
    assert console.get("/console/models/engage-new/confusion.png").status_code == 403
    assert loads(console) == [] and "console.view_models" not in audit_actions(console.app.state.settings)
    # The nav shows the link to maintainers only.
    assert 'href="/console/models"' not in console.get("/console").text


@pytest.mark.parametrize("email", ["mo@example.org", "bea@example.org"])
def test_maintainers_and_admins_see_it(console, email):
    sign_in(console, email=email)
    page = console.get("/console/models")
    assert page.status_code == 200 and "<h1>Models</h1>" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert 'href="/console/models"' in console.get("/console").text


def test_the_page_shows_the_live_model_its_evaluation_the_previous_one_every_model_and_the_history(
        console, settings):
    seed(settings, ("deploy", "engage-new", "engage-gone", "Mo", PASSED),
         ("deploy", "engage-old", "engage-new", "ops-cli", PASSED))
    sign_in(console, email="mo@example.org")
    page = console.get("/console/models").text
    live = re.search(r'data-testid="live-model">(.*?)</section>', page, re.S).group(1)
    assert "<strong>engage-old</strong>" in live and "deployed 2026-11-03 09:30 UTC by ops-cli (command line)" in live
    for label, value in (("Accuracy", "91.0%"), ("Macro-F1", "88.0%"), ("Out-of-scope recall", "80.0%"),
                         ("Crisis recall", "100.0%")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in live
    assert '<dd data-testid="verdict">passed</dd>' in live
    assert 'src="/console/models/engage-old/f1.png"' in live and "confusion.png" not in live
    previous = re.search(r'data-testid="previous-model">(.*?)</section>', page, re.S).group(1)
    assert "<strong>engage-new</strong>" in previous and 'data-testid="rollback"' in previous
    assert "Live" in row_of(page, "engage-old") and 'data-testid="deploy"' not in row_of(page, "engage-old")
    assert 'data-testid="deploy"' in row_of(page, "engage-new")
    assert 'href="/console/models/engage-new/confusion.png"' in row_of(page, "engage-new")
    bad = row_of(page, "engage-bad")
    assert "failed" in bad and "95.0%" in bad and 'data-testid="deploy"' not in bad and "Not deployable" in bad
    raw = row_of(page, "engage-raw")
    assert "not evaluated" in raw and 'data-testid="deploy"' not in raw
    history = re.search(r'data-testid="history">(.*?)</table>', page, re.S).group(1)
    assert history.count("<tr>") == 3  # the header and two deployments
    assert history.index("engage-old") < history.index("engage-gone")  # newest first
    assert "console.view_models" in audit_actions(settings)


def test_a_previous_model_that_left_the_folder_cannot_be_rolled_back_to(console, settings):
    seed(settings, ("deploy", "engage-old", "engage-gone", "Mo", PASSED))
    sign_in(console, email="mo@example.org")
    previous = re.search(r'data-testid="previous-model">(.*?)</section>', console.get("/console/models").text,
                         re.S).group(1)
    assert "engage-gone" in previous and "no longer in the models folder" in previous
    assert 'data-testid="rollback"' not in previous


def test_deploy_from_the_console(console, settings):
    sign_in(console, email="mo@example.org")
    answer = post(console, "/console/models/deploy", model="engage-new")
    assert answer.status_code == 200
    assert "engage-new is live (was engage-old)" in answer.text and 'data-testid="notice"' in answer.text
    assert loads(console) == [("load", str(settings.models_dir / "engage-new.tar.gz"))]
    with session_scope(settings.app_db_url) as session:
        row = session.execute(select(ModelDeployment)).scalar_one()
        assert (row.model_name, row.previous_model, row.deployed_by, row.forced) == (
            "engage-new", "engage-old", "Mo", False)
        assert row.staff_id is not None and json.loads(row.evaluation) == PASSED
    assert "model.deploy" in audit_actions(settings)
    assert "<strong>engage-new</strong>" in answer.text


def test_the_console_cannot_force_a_model_past_the_gate(console, settings):
    sign_in(console, email="bea@example.org")
    answer = post(console, "/console/models/deploy", model="engage-bad", force="1")
    assert answer.status_code == 409 and "did not pass the regression gate" in answer.text
    assert "--force" in answer.text and 'role="alert"' in answer.text
    assert loads(console) == []


def test_a_failed_deploy_shows_the_error_and_the_old_model_stays(console, settings):
    console.app.state.rasa.load_error = RasaUnavailable("HTTP 500: out of memory")
    sign_in(console, email="mo@example.org")
    answer = post(console, "/console/models/deploy", model="engage-new")
    assert answer.status_code == 502
    assert "out of memory" in answer.text and "engage-old is still live" in answer.text
    assert "model.deploy_failed" in audit_actions(settings)


def test_roll_back_in_one_click(console, settings):
    seed(settings, ("deploy", "engage-old", "engage-new", "Mo", PASSED))
    sign_in(console, email="mo@example.org")
    answer = post(console, "/console/models/rollback")
    assert answer.status_code == 200 and "engage-new is live (was engage-old)" in answer.text
    assert console.app.state.rasa.loaded == "engage-new.tar.gz"
    assert audit_actions(settings)[-2:] == ["model.rollback", "console.view_models"]


def test_the_forms_refuse_a_missing_or_wrong_csrf_token(console):
    sign_in(console, email="mo@example.org")
    good = csrf_from(console.get("/console/models").text)
    for path in ("/console/models/deploy", "/console/models/rollback"):
        for fields in ({}, {"csrf": "not-the-token"}, {"csrf": good + "x"}):
            answer = console.post(path, data={**fields, "model": "engage-new"}, follow_redirects=False)
            assert answer.status_code == 403, (path, fields)
    assert loads(console) == []


def test_the_charts_are_served_to_maintainers(console):
    sign_in(console, email="mo@example.org")
    chart = console.get("/console/models/engage-new/confusion.png")
    assert chart.status_code == 200 and chart.content == PNG and chart.headers["content-type"] == "image/png"
    assert chart.headers["cache-control"] == "no-store"
    for missing in ("/console/models/engage-new/f1.png", "/console/models/engage-new/secrets.png",
                    "/console/models/engage-nope/confusion.png", "/console/models/..%2Fapp.db/confusion.png"):
        assert console.get(missing).status_code == 404, missing


def test_the_internal_api_deploys_with_progress_and_refuses_clearly(console, settings):
    internal = f"http://127.0.0.1:{settings.internal_api_port}/internal/models"
    assert console.post(f"{internal}/deploy", json={"model": "engage-new", "by": "x"}).status_code == 401
    refused = console.post(f"{internal}/deploy", headers=INTERNAL, json={"model": "engage-bad", "by": "ops"})
    assert refused.status_code == 409 and "regression gate" in refused.json()["error"]
    bad_force = console.post(f"{internal}/deploy", headers=INTERNAL, json={"model": "engage-bad", "by": "ops",
                                                                            "force": "yes"})
    assert bad_force.status_code == 400
    answer = console.post(f"{internal}/deploy", headers=INTERNAL,
                          json={"model": "engage-bad", "by": "ops", "force": True})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert any("loading engage-bad" in line.get("step", "") for line in lines[:-1])
    result = lines[-1]["result"]
    assert result["ok"] and result["forced"] and (result["model"], result["previous"]) == ("engage-bad", "engage-old")
    rolled = console.post(f"{internal}/rollback", headers=INTERNAL, json={"by": "ops"})
    assert json.loads(rolled.text.splitlines()[-1])["result"]["model"] == "engage-old"
    with session_scope(settings.app_db_url) as session:
        rows = session.execute(select(ModelDeployment).order_by(ModelDeployment.id)).scalars().all()
        assert [(row.kind, row.model_name, row.staff_id, row.deployed_by, row.forced) for row in rows] == [
            ("deploy", "engage-bad", None, "ops", True), ("rollback", "engage-old", None, "ops", False)]
    assert console.post(f"{internal}/rollback", headers=INTERNAL, json={}).status_code == 400
    # Only on the internal listener.
    assert console.post("/internal/models/rollback", headers=INTERNAL, json={"by": "ops"}).status_code == 404


def test_failed_evaluations_show_why(console, settings):
    trained(settings.models_dir, "engage-forced", {**FAILED, "gate": {**FAILED["gate"], "forced": True}})
    sign_in(console, email="mo@example.org")
    page = console.get("/console/models").text
    assert "failed, trained anyway (forced)" in row_of(page, "engage-forced")
