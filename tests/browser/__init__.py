"""Browser tests: the sandbox web chat in Debian's Chromium, driven by Playwright."""
