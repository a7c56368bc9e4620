"""Console pages in Debian's Chromium for the browser tests: a browser context that records script
errors and Content Security Policy violations, and a staff sign-in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from playwright.sync_api import expect

from tests.support.artifacts import artifacts_dir
from tests.support.console_client import PASSWORD

SCREENSHOTS = artifacts_dir("screenshots")
TIMEOUT = 30_000
VIEWPORT = {"width": 1280, "height": 900}

# Chromium also logs violations to the console; this makes sure each one is reported in words we look for.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("Content Security Policy violation: " + event.violatedDirective + " blocked " + event.blockedURI);
});
"""


@dataclass
class Browsing:
    """One browser context with its page, and what went wrong in it."""

    name: str
    context: object
    page: object
    errors: List[str] = field(default_factory=list)
    csp: List[str] = field(default_factory=list)

    def screenshot(self, test_name: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"console-{test_name}-{self.name}.png"))

    def assert_clean(self) -> None:
        assert self.errors == [], f"JavaScript errors in the {self.name}'s page: {self.errors}"
        assert self.csp == [], f"Content Security Policy violations in the {self.name}'s page: {self.csp}"


def open_context(browser, name: str, **options) -> Browsing:
    context = browser.new_context(viewport=VIEWPORT, **options)
    context.set_default_timeout(TIMEOUT)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    browsing = Browsing(name, context, page)
    page.on("pageerror", lambda error: browsing.errors.append(str(error)))
    page.on("console", lambda message: browsing.csp.append(message.text)
            if "Content Security Policy" in message.text else None)
    return browsing


def sign_in(page, stack, email: str) -> None:
    page.goto(stack.gateway_url + "/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as Rosa.")).to_be_visible()
    wait_live(page)


def wait_live(page) -> None:
    """The page's live socket is connected (set by console.js when the socket opens)."""
    page.locator('body[data-live="on"]').wait_for(state="attached", timeout=TIMEOUT)
