"""The widget in Debian's Chromium, driven by Playwright, against the real gateway, Rasa and actions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.domain.knowledge.loader import default as knowledge
from bot.gateway.visitor.texts import VisitorTexts
from bot.store import MessageRating, session_scope
from tests.support.artifacts import artifacts_dir
from tests.support.browser_chat import open_chat, send, wait_for_bot_text, widget

pytestmark = pytest.mark.integration

SCREENSHOTS = artifacts_dir("screenshots")


@pytest.fixture
def page(browser, stack, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(stack.gateway_url + "/")
    yield page
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"))
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def test_ask_a_question_and_see_the_answer(page):
    open_chat(page)
    send(page, "is kratom addictive")
    wait_for_bot_text(page, knowledge().get("kratom_addiction").short)
    assert "automated assistant" in widget(page, "log").inner_text()


def test_the_widgets_words_and_limit_come_from_the_gateway(page, stack):
    texts = VisitorTexts(stack.settings)
    open_chat(page)
    assert widget(page, "send").inner_text() == texts.message("widget_send")
    assert widget(page, "disclosure").inner_text() == texts.message("widget_disclosure")
    assert widget(page, "human-button").inner_text() == texts.message("talk_to_person_button")
    assert widget(page, "launcher").get_attribute("aria-label") == texts.message("widget_open_chat")
    limit = stack.settings.max_message_chars
    assert widget(page, "input").get_attribute("maxlength") == str(limit)
    send(page, "hello")
    widget(page, "bot-message").first.wait_for(timeout=20_000)
    # Refused by the widget itself, before sending, in the gateway's words.
    assert page.evaluate(f"() => window.EngageChat.send('a'.repeat({limit + 1}))") is None
    widget(page, "notice").filter(has_text=texts.message("message_too_long")).wait_for(timeout=5_000)


def test_click_a_quick_reply(page):
    open_chat(page)
    send(page, "what therapies do you offer")
    wait_for_bot_text(page, knowledge().get("therapies").short)
    button = widget(page, "quick-reply").filter(has_text=knowledge().get("dbt").title).first
    button.click()
    wait_for_bot_text(page, knowledge().get("dbt").short)
    assert button.is_disabled()


def test_history_survives_a_reload(page):
    open_chat(page)
    send(page, "what is iop")
    wait_for_bot_text(page, knowledge().get("iop").short)
    page.reload()
    open_chat(page)
    wait_for_bot_text(page, knowledge().get("iop").short)
    assert widget(page, "visitor-message").filter(has_text="what is iop").count() == 1


def test_markup_in_a_message_is_shown_as_text(page):
    open_chat(page)
    attack = "<img src=x onerror=alert(1)>"
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    send(page, attack)
    widget(page, "visitor-message").filter(has_text=attack).first.wait_for()
    widget(page, "bot-message").nth(1).wait_for()
    assert dialogs == []
    assert page.evaluate("() => document.querySelectorAll('img[src=x]').length") == 0


def test_keyboard_only(page):
    page.keyboard.press("Tab")
    for _ in range(30):  # tab through the host page until the launcher has focus
        focused = page.evaluate("() => document.activeElement && document.activeElement.id")
        if focused == "ew-chat-host":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    widget(page, "input").wait_for(state="visible")
    page.keyboard.type("where are you located")
    page.keyboard.press("Enter")
    wait_for_bot_text(page, knowledge().for_intent("ask_location").unknown.format(clinic_name="Engage Wellness"))
    page.keyboard.press("Escape")
    widget(page, "panel").wait_for(state="hidden")


def test_a_crisis_answer_stands_out(page):
    open_chat(page)
    send(page, "i want to kill myself")
    urgent = page.locator("[data-testid='bot-message'][data-urgent='true']")
    urgent.first.wait_for(timeout=20_000)
    assert "988" in urgent.first.inner_text()


def test_works_at_320_pixels_wide(browser, stack):
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    page.goto(stack.gateway_url + "/")
    open_chat(page)
    send(page, "do you take insurance")
    widget(page, "bot-message").nth(1).wait_for(timeout=20_000)
    box = widget(page, "panel").bounding_box()
    assert box["width"] <= 320 and box["x"] >= 0
    page.screenshot(path=str(SCREENSHOTS / "narrow-320.png"))
    context.close()


def test_messages_typed_while_offline_are_sent_once_in_order(page, stack):
    open_chat(page)
    send(page, "hello")
    widget(page, "bot-message").nth(1).wait_for(timeout=20_000)
    stack.stop_gateway()
    reconnecting = knowledge().messages["widget_reconnecting"].text
    widget(page, "status").filter(has_text=reconnecting).wait_for(timeout=15_000)
    send(page, "what is iop")
    send(page, "do you take insurance")
    stack.start_gateway()
    wait_for_bot_text(page, knowledge().get("iop").short, timeout=60_000)
    wait_for_bot_text(page, knowledge().for_intent("ask_insurance").unknown.format(clinic_name="Engage Wellness"),
                      timeout=30_000)
    conversation_id = page.evaluate("() => localStorage.getItem('ew-chat-conversation')")
    visitor_texts = [e["text"] for e in stack.events(conversation_id) if e["event"] == "user"]
    assert visitor_texts == ["hello", "what is iop", "do you take insurance"]


def test_a_first_visit_contacts_the_clinic_only_when_the_chat_is_opened(browser, stack):
    context = browser.new_context()
    page = context.new_page()
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    try:
        page.goto(stack.gateway_url + "/")
        widget(page, "launcher").wait_for(state="visible")
        page.wait_for_timeout(1500)
        assert sockets == [], "the widget connected before the visitor opened it"
        open_chat(page)
        send(page, "what is iop")
        wait_for_bot_text(page, knowledge().get("iop").short)
        assert len(sockets) == 1
        # A returning visitor reconnects on load, chat closed, so a reply from admissions still arrives.
        with page.expect_websocket(timeout=10_000):
            page.reload()
    finally:
        context.close()


def test_rate_an_answer_with_the_keyboard(page, stack):
    texts = VisitorTexts(stack.settings)
    open_chat(page)
    send(page, "what is iop")
    wait_for_bot_text(page, knowledge().get("iop").short)
    down = widget(page, "rate-down").last
    assert down.get_attribute("aria-label") == texts.message("widget_rate_down")
    assert down.get_attribute("aria-pressed") == "false"
    down.focus()
    page.keyboard.press("Enter")
    widget(page, "rate-thanks").filter(has_text=texts.message("widget_rate_thanks")).wait_for(timeout=10_000)
    assert down.get_attribute("aria-pressed") == "true"
    assert widget(page, "rate-up").last.get_attribute("aria-pressed") == "false"
    conversation_id = page.evaluate("() => localStorage.getItem('ew-chat-conversation')")
    with session_scope(stack.settings.app_db_url) as session:
        stored = session.execute(select(MessageRating.rating).where(
            MessageRating.conversation_id == conversation_id)).scalars().all()
    assert stored == ["down"]
