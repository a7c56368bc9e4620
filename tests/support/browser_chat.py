"""Driving the chat widget on a Playwright page by its test ids."""


def widget(page, testid: str):
    """An element inside the widget's shadow root (Playwright's CSS locators pierce open shadow roots)."""
    return page.locator(f"[data-testid='{testid}']")


def open_chat(page) -> None:
    widget(page, "launcher").click()
    widget(page, "input").wait_for(state="visible")


def send(page, text: str) -> None:
    widget(page, "input").fill(text)
    widget(page, "send").click()


def wait_for_bot_text(page, text: str, timeout: float = 20_000) -> None:
    widget(page, "bot-message").filter(has_text=text[:60]).first.wait_for(timeout=timeout)
