"""The staff console and the widget side by side in Debian's Chromium, against the real gateway, Rasa and actions.

Two browser contexts at once: a visitor on the demo page using the widget, and a staff member in the
console. Everything staff see change while they watch (a new row in the queue, a visitor's message in
the transcript) must arrive over the console's live socket, without reloading the page.
"""

from __future__ import annotations

import uuid
from typing import Iterator, List

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select, update

from bot.domain.knowledge.loader import default as knowledge
from bot.store import Handoff, StaffMember, handoffs, session_scope, utcnow
from tests.support.browser_chat import open_chat, send, wait_for_bot_text
from tests.support.browser_console import TIMEOUT, Browsing, open_context, sign_in, wait_live
from tests.support.console_client import add_staff

pytestmark = pytest.mark.integration


# The OS notification is the edge we cannot observe: record what the page asks the browser to show.
RECORD_NOTIFICATIONS = """
(() => {
  window.__notifications = [];
  const Original = window.Notification;
  if (!Original) return;
  function Recorded(title, options) {
    options = options || {};
    window.__notifications.push({title: String(title), body: String(options.body || ""),
                                 tag: String(options.tag || ""), requireInteraction: !!options.requireInteraction});
    return new Original(title, options);
  }
  Object.defineProperty(Recorded, "permission", {get: () => Original.permission});
  Recorded.requestPermission = (...args) => Original.requestPermission(...args);
  Recorded.prototype = Original.prototype;
  window.Notification = Recorded;
})();
"""
# Set on a loaded page; still there later only if the page was never reloaded or left.
NO_RELOAD_MARK = "() => { window.__noReload = true; }"
STILL_SAME_PAGE = "() => window.__noReload === true"


@pytest.fixture
def contexts(browser, request) -> Iterator[list]:
    """Browser contexts a test opens; each is screenshotted and closed at the end, pass or fail."""
    opened: List[Browsing] = []
    yield opened
    for browsing in opened:
        try:
            browsing.screenshot(request.node.name)
        finally:
            browsing.context.close()


@pytest.fixture
def staff_email(stack) -> Iterator[str]:
    """A new staff member (unique per test); afterwards nobody is left online, as other tests expect."""
    email = f"console-{uuid.uuid4().hex[:10]}@example.org"
    add_staff(stack.settings, email=email, name="Rosa", admin=True)
    try:
        yield email
    finally:
        with session_scope(stack.settings.app_db_url) as session:
            session.execute(update(StaffMember).values(presence="offline"))


@pytest.fixture
def leftover_handoffs(stack) -> Iterator[List[int]]:
    """Handoff ids a test leaves open; closed afterwards so later tests don't find them in the queue."""
    ids: List[int] = []
    yield ids
    if ids:
        with session_scope(stack.settings.app_db_url) as session:
            for status, closed in (("waiting", "expired"), ("active", "resolved")):
                session.execute(update(Handoff).where(Handoff.id.in_(ids), Handoff.status == status)
                                .values(status=closed, closed_at=utcnow()))


def staff_context(browser, contexts, **options) -> Browsing:
    browsing = open_context(browser, "staff", **options)
    contexts.append(browsing)
    return browsing


def visitor_context(browser, contexts, stack, name: str = "visitor") -> Browsing:
    browsing = open_context(browser, name)
    contexts.append(browsing)
    browsing.page.goto(stack.gateway_url + "/")
    open_chat(browsing.page)
    return browsing


def conversation_id_of(visitor: Browsing) -> str:
    conversation_id = visitor.page.evaluate("() => localStorage.getItem('ew-chat-conversation')")
    assert conversation_id, "the widget has no conversation id"
    return conversation_id


def open_handoff_of(stack, conversation_id: str) -> Handoff:
    with session_scope(stack.settings.app_db_url) as session:
        handoff = session.execute(select(Handoff).where(
            Handoff.conversation_id == conversation_id, Handoff.status.in_(("waiting", "active")))).scalar_one()
        session.expunge(handoff)
        return handoff


def go_to_queue(page) -> None:
    page.get_by_role("link", name="Queue", exact=True).click()
    expect(page.locator("h1")).to_have_text("Queue")
    wait_live(page)


def add_canned_reply(page, title: str, text: str) -> None:
    page.get_by_role("link", name="Canned replies").click()
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Text", exact=True).fill(text)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("[data-testid=canned-replies] tr").filter(has_text=title)).to_contain_text(text)


def test_staff_take_over_reply_and_hand_back_live(browser, stack, staff_email, contexts):
    token = uuid.uuid4().hex[:8]
    staff = staff_context(browser, contexts)
    console = staff.page
    sign_in(console, stack, staff_email)
    canned_title, canned_text = f"Greeting {token}", f"Hi, this is Rosa from admissions ({token})."
    add_canned_reply(console, canned_title, canned_text)
    go_to_queue(console)
    console.evaluate(NO_RELOAD_MARK)

    visitor = visitor_context(browser, contexts, stack)
    chat = visitor.page
    send(chat, "i want to talk to a real person")
    wait_for_bot_text(chat, knowledge().get("handoff_waiting").short)
    handoff = open_handoff_of(stack, conversation_id_of(visitor))
    assert handoff.status == "waiting"

    # The queue shows the new visitor while staff watch it.
    row = console.locator(f'[data-testid=waiting] tr[data-handoff="{handoff.id}"]')
    expect(row).to_be_visible(timeout=TIMEOUT)
    expect(row).to_contain_text("visitor asked for a person")
    assert console.evaluate(STILL_SAME_PAGE), "the queue page was reloaded instead of updated live"

    row.get_by_role("link", name="Open").click()
    console.get_by_role("button", name="Claim", exact=True).click()
    expect(console.locator("#reply-form")).to_be_visible()
    wait_live(console)
    console.evaluate(NO_RELOAD_MARK)

    # The visitor writes while handed over: the message reaches the open transcript live.
    waiting_words = f"thanks, i'll wait {token}"
    send(chat, waiting_words)
    transcript = console.locator("[data-testid=transcript]")
    expect(transcript.locator("li.visitor").filter(has_text=waiting_words)).to_have_count(1, timeout=TIMEOUT)
    assert console.evaluate(STILL_SAME_PAGE), "the conversation page was reloaded instead of updated live"

    # A canned reply goes into the reply box; staff send it; the visitor sees it from the admissions team.
    console.locator("select[data-testid=canned]").select_option(label=canned_title)
    expect(console.locator("#reply-text")).to_have_value(canned_text)
    console.locator("#reply-form").get_by_role("button", name="Send").click()
    staff_message = chat.locator("[data-testid=message][data-role=staff]").filter(has_text=canned_text)
    expect(staff_message).to_be_visible(timeout=TIMEOUT)
    expect(staff_message).to_contain_text("Admissions team")
    expect(transcript).to_contain_text(f"Rosa: {canned_text}")

    # Resolve: the bot has the conversation again.
    console.get_by_role("button", name="Resolve (hand back to the assistant)").click()
    expect(console.locator("h1")).to_have_text("Queue")
    expect(console.locator(f'[data-testid=resolved] tr[data-handoff="{handoff.id}"]')).to_be_visible()
    wait_for_bot_text(chat, knowledge().get("handoff_resolved").short, timeout=TIMEOUT)
    send(chat, "what is iop")
    wait_for_bot_text(chat, knowledge().get("iop").short, timeout=TIMEOUT)

    staff.assert_clean()
    visitor.assert_clean()


def test_a_crisis_goes_to_the_top_of_the_queue_with_an_alert(browser, stack, staff_email,
                                                               leftover_handoffs, contexts):
    staff = staff_context(browser, contexts, permissions=["notifications"])
    staff.context.add_init_script(RECORD_NOTIFICATIONS)
    console = staff.page
    sign_in(console, stack, staff_email)

    # A visitor is already waiting for a person, at normal priority.
    normal = requests.post(f"{stack.internal_url}/internal/handoffs", timeout=10,
                           headers={"Authorization": f"Bearer {stack.settings.internal_api_token}"},
                           json={"conversation_id": f"test-console-{uuid.uuid4().hex}",
                                 "reason": "visitor asked for a person", "priority": "normal",
                                 "last_intent": "request_human"})
    assert normal.json()["status"] == "waiting", normal.text
    leftover_handoffs.append(normal.json()["handoff_id"])
    console.reload()
    wait_live(console)
    normal_row = console.locator(f'[data-testid=waiting] tr[data-handoff="{normal.json()["handoff_id"]}"]')
    expect(normal_row).to_have_attribute("data-priority", "normal")

    console.locator("#enable-alerts").click()
    expect(console.locator("#enable-alerts")).to_be_hidden()
    assert console.evaluate("() => Notification.permission") == "granted"
    alerts_before = int(console.evaluate("() => Number(document.body.dataset.alerts || 0)"))
    console.evaluate(NO_RELOAD_MARK)

    visitor = visitor_context(browser, contexts, stack, "crisis-visitor")
    chat = visitor.page
    send(chat, "i want to kill myself")
    urgent_message = chat.locator("[data-testid='bot-message'][data-urgent='true']").first
    expect(urgent_message).to_be_visible(timeout=TIMEOUT)
    expect(urgent_message).to_contain_text("988")
    expect(chat.locator("[data-testid=urgent]").first).to_be_visible()
    handoff = open_handoff_of(stack, conversation_id_of(visitor))
    leftover_handoffs.append(handoff.id)
    assert (handoff.status, handoff.priority) == ("waiting", "urgent")

    # Live, without a reload: the crisis is above every normal waiting visitor.
    rows = console.locator("[data-testid=waiting] tbody tr")
    mine = console.locator(f'[data-testid=waiting] tr[data-handoff="{handoff.id}"]')
    expect(mine).to_have_attribute("data-priority", "urgent", timeout=TIMEOUT)
    expect(rows.first).to_have_attribute("data-priority", "urgent")
    order = console.evaluate("""() => [...document.querySelectorAll('[data-testid=waiting] tbody tr')]
                                .map(row => [row.dataset.handoff, row.dataset.priority])""")
    priorities = [priority for _, priority in order]
    assert priorities == sorted(priorities, key=lambda p: p != "urgent"), f"urgent rows not first: {order}"
    assert [str(handoff.id), "urgent"] in order and [str(normal.json()["handoff_id"]), "normal"] in order
    assert console.evaluate(STILL_SAME_PAGE), "the queue page was reloaded instead of updated live"

    # The alert: a notification, the counter, and the status line.
    console.wait_for_function("() => window.__notifications.some(n => n.body.includes('URGENT'))",
                              timeout=TIMEOUT)
    notifications = console.evaluate("() => window.__notifications")
    urgent_notes = [n for n in notifications if "URGENT" in n["body"]]
    assert [n["tag"] for n in urgent_notes] == [f"handoff-{handoff.id}"], notifications
    assert urgent_notes[0]["requireInteraction"] is True
    expect(console.locator("body")).to_have_attribute("data-alerts", str(alerts_before + 1))
    expect(console.locator("#live-status")).to_contain_text("URGENT")
    # And the sound: three tones scheduled on the page's audio context for a crisis.
    assert console.evaluate("() => Number(document.body.dataset.tones || 0)") >= 3

    staff.assert_clean()
    visitor.assert_clean()


def test_console_pages_have_no_script_errors_or_policy_violations(browser, stack, staff_email,
                                                                    leftover_handoffs, contexts):
    staff = staff_context(browser, contexts, permissions=["notifications"])
    console = staff.page
    console.goto(stack.gateway_url + "/console/login")
    expect(console.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(console, stack, staff_email)
    console.locator("#enable-alerts").click()
    add_canned_reply(console, f"Hours {uuid.uuid4().hex[:8]}", "We answer chats on weekdays.")

    opened = requests.post(f"{stack.internal_url}/internal/handoffs", timeout=10,
                           headers={"Authorization": f"Bearer {stack.settings.internal_api_token}"},
                           json={"conversation_id": f"test-console-{uuid.uuid4().hex}",
                                 "reason": "visitor asked for a person", "priority": "normal"}).json()
    leftover_handoffs.append(opened["handoff_id"])
    go_to_queue(console)
    console.locator(f'[data-testid=waiting] tr[data-handoff="{opened["handoff_id"]}"]').get_by_role(
        "link", name="Open").click()
    console.get_by_role("button", name="Claim", exact=True).click()
    expect(console.locator("#reply-form")).to_be_visible()
    wait_live(console)
    console.locator("select[data-testid=canned]").select_option(index=1)
    expect(console.locator("#reply-text")).not_to_have_value("")
    for link, heading in (("Callbacks", "Callback requests"), ("Canned replies", "Canned replies"),
                          ("Audit log", "Audit log"), ("Queue", "Queue")):
        console.get_by_role("link", name=link, exact=True).click()
        expect(console.locator("h1")).to_have_text(heading)
        wait_live(console)

    staff.assert_clean()


def test_the_queue_catches_up_after_the_live_socket_reconnects(browser, stack, staff_email,
                                                                 leftover_handoffs, contexts):
    """Queue changes made while the console's socket was down (Wi-Fi blip, gateway restart) show up
    once it reconnects, not only at the next change, and a crisis among them is alerted."""
    staff = staff_context(browser, contexts)
    console = staff.page
    sign_in(console, stack, staff_email)
    console.evaluate(NO_RELOAD_MARK)
    stack.stop_gateway()
    try:
        console.locator('body[data-live="off"]').wait_for(state="attached", timeout=TIMEOUT)
        with session_scope(stack.settings.app_db_url) as session:
            missed = handoffs.open_handoff(session, f"test-console-{uuid.uuid4().hex}", "crisis_self_harm",
                                           "urgent", None).id
        leftover_handoffs.append(missed)
    finally:
        stack.start_gateway()
    wait_live(console)
    expect(console.locator(f'[data-testid=waiting] tr[data-handoff="{missed}"]')).to_be_visible(timeout=TIMEOUT)
    assert console.evaluate(STILL_SAME_PAGE), "the queue page was reloaded instead of updated live"
    # The crisis that arrived during the gap still raises its alert.
    expect(console.locator("#live-status")).to_contain_text("URGENT")
    staff.assert_clean()
