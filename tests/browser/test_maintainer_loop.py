"""The maintainer's loop end to end, in Chromium against the real servers (docs/maintainer.md):
a visitor's message the live model gets wrong, thumbs down, the review queue, relabel, export,
`python -m bot train` (the regression gate passes), deploy from the console, and the assistant now
answering the message as relabelled. And the gate refusing a deliberately worse model, which the
console then offers no way to deploy.

The project is a copy of this checkout's training data in a scratch folder, with its own models
folder, so the export and the training never touch the checkout. Prints the time from export to a
deployed model."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import expect

from bot.domain import model_registry
from bot.domain.knowledge.loader import default as knowledge
from bot.ops.processes import rasa_environment
from bot.ops.training import train_model
from devtools.local_stack import Stack, running_stack
from tests.support import log_privacy
from tests.support.artifacts import ARTIFACTS
from tests.support.browser_chat import send, wait_for_bot_text, widget
from tests.support.browser_console import TIMEOUT, open_context, sign_in
from tests.support.console_client import add_staff
from tests.support.worse_model import cached_model, write_project

pytestmark = pytest.mark.integration

# Out of scope to the shipped model (confidence 1.00); a sponsor is 12-step work, one of the therapies.
MESSAGE = "do i get a sponsor or a buddy there"
WRONG_INTENT = "out_of_scope"
RIGHT_INTENT = "ask_therapy"
PROJECT_FILES = ("config.yml", "domain.yml", "data", "encoder.lock")


def copy_model(model: Path, folder: Path) -> Path:
    """The model and its evaluation and charts, into another models folder."""
    for source in (model, *model_registry.evaluation_files(model)):
        if source.exists():
            shutil.copy2(source, folder / source.name)
    return folder / model.name


@dataclass
class Loop:
    stack: Stack
    project: Path
    shipped: Path

    @property
    def gateway_url(self) -> str:
        return self.stack.gateway_url

    @property
    def settings(self):
        return self.stack.settings


@pytest.fixture(scope="module")
def loop(tmp_path_factory, postgres_database) -> Iterator[Loop]:
    root = tmp_path_factory.mktemp("maintainer-loop")
    project, models = root / "project", root / "models"
    models.mkdir()
    for name in PROJECT_FILES:
        source = Path(__file__).resolve().parents[2] / name
        if source.is_dir():
            shutil.copytree(source, project / name)
        else:
            project.mkdir(exist_ok=True)
            shutil.copy2(source, project / name)
    shipped = copy_model(train_model(), models)
    log_privacy.remember(MESSAGE)
    with running_stack(postgres_database, ARTIFACTS / "server-logs", with_gateway=True, model=shipped,
                       models_dir=models, reviewed_nlu_file=project / "data" / "nlu" / "reviewed.yml") as stack:
        model_registry.set_live_model(stack.settings, shipped)
        add_staff(stack.settings, email="rosa@example.org", name="Rosa", maintainer=True)
        yield Loop(stack, project, shipped)


def train(loop: Loop, project: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "train", "--project", str(project), *options],
                          env=rasa_environment(loop.settings), capture_output=True, text=True, timeout=900)


def last_intent(loop: Loop, conversation_id: str) -> str:
    users = [event for event in loop.stack.events(conversation_id) if event["event"] == "user"]
    return users[-1]["parse_data"]["intent"]["name"]


def test_review_relabel_export_train_gate_deploy_and_the_bot_answers_right(browser, loop):
    visitor = open_context(browser, "visitor")
    staff = open_context(browser, "staff")
    try:
        page = visitor.page
        page.goto(loop.gateway_url + "/")
        widget(page, "launcher").click()
        send(page, MESSAGE)
        widget(page, "rate-down").last.wait_for(timeout=TIMEOUT)
        conversation_id = page.evaluate("() => localStorage.getItem('ew-chat-conversation')")
        assert last_intent(loop, conversation_id) == WRONG_INTENT
        widget(page, "rate-down").last.click()
        widget(page, "rate-thanks").last.wait_for(timeout=TIMEOUT)

        console = staff.page
        sign_in(console, loop.stack, "rosa@example.org")
        console.goto(loop.gateway_url + "/console/review?filter=thumbs_down")
        row = console.get_by_test_id("review-item").filter(has_text=MESSAGE)
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("review-intent")).to_have_text(WRONG_INTENT)
        row.get_by_test_id("review-relabel-intent").select_option(RIGHT_INTENT)
        row.get_by_test_id("review-relabel").click()
        row = console.get_by_test_id("review-item").filter(has_text=MESSAGE)
        expect(row.get_by_test_id("review-decision")).to_contain_text(f"relabel as {RIGHT_INTENT}")

        started = time.monotonic()
        console.get_by_test_id("review-export").click()
        expect(console.get_by_test_id("export-summary")).to_contain_text("1 new examples written")
        assert f"- {MESSAGE}" in (loop.project / "data" / "nlu" / "reviewed.yml").read_text()

        trained = train(loop, loop.project)
        assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
        assert "(gate passed)" in trained.stdout
        new_model = model_registry.live_model(loop.settings)
        assert new_model is not None and new_model != loop.shipped
        trained_at = time.monotonic()

        console.goto(loop.gateway_url + "/console/models")
        console.locator(f"tr[data-model='{model_registry.name_of(new_model)}']").get_by_test_id("deploy").click()
        expect(console.get_by_test_id("notice")).to_contain_text(model_registry.name_of(new_model),
                                                                 timeout=120_000)
        deployed_at = time.monotonic()
        expect(console.get_by_test_id("live-model")).to_contain_text(model_registry.name_of(new_model))
        print(f"\nexport to trained and gated: {trained_at - started:.0f} s; "
              f"to deployed: {deployed_at - started:.0f} s (deploy itself {deployed_at - trained_at:.1f} s)")

        send(page, MESSAGE)
        wait_for_bot_text(page, knowledge().get("therapies").short, timeout=30_000)
        assert last_intent(loop, conversation_id) == RIGHT_INTENT
        visitor.assert_clean()
        staff.assert_clean()
    finally:
        for browsing in (visitor, staff):
            browsing.page.screenshot(path=str(ARTIFACTS / f"maintainer-loop-{browsing.name}.png"))
            browsing.context.close()


def test_the_gate_refuses_a_worse_model_and_the_console_will_not_deploy_it(browser, loop, tmp_path):
    project = write_project(tmp_path / f"worse-{uuid.uuid4().hex[:6]}")
    worse = loop.settings.models_dir / cached_model(project, loop.settings).name
    shutil.copy2(cached_model(project, loop.settings), worse)
    live_before = model_registry.live_model(loop.settings)

    refused = train(loop, project)

    assert refused.returncode == 1, refused.stdout[-3000:] + refused.stderr[-3000:]
    assert "regression gate" in refused.stdout and "intents whose F1 got worse" in refused.stdout
    assert model_registry.live_model(loop.settings) == live_before
    staff = open_context(browser, "staff")
    try:
        sign_in(staff.page, loop.stack, "rosa@example.org")
        staff.page.goto(loop.gateway_url + "/console/models")
        row = staff.page.locator(f"tr[data-model='{model_registry.name_of(worse)}']")
        expect(row).to_contain_text("Not deployable here")
        expect(row.get_by_test_id("deploy")).to_have_count(0)
        staff.assert_clean()
    finally:
        staff.context.close()
