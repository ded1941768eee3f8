"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright.

Playwright's own browser download (`playwright install`) is never used: `make install` installs
Debian's chromium, which CI and air-gapped machines can get from their apt mirror.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# No sandbox: tests run as root in containers, where Chromium's sandbox cannot start. The rest
# keep the browser from phoning home, so a test sees only the requests the page itself makes.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync",
]


@contextmanager
def chromium_page() -> Iterator[Page]:
    """A page in a fresh headless Chromium (new profile every time); skips the test without Chromium.

        with chromium_page() as page:
            page.goto(url)
    """
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (make install puts it there with apt-get)")
    with tempfile.TemporaryDirectory(prefix="alma-graph-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
