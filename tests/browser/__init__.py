"""The widget and the console in Debian's Chromium, driven by Playwright."""
