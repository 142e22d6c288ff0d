"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by Playwright for
Python (``executable_path``; Playwright never downloads a browser here).

``chromium_page()`` yields a fresh page in a fresh profile. Without Chromium or Playwright the
test skips, except with ``CI=true``, where it fails (``make test`` installs both).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from service_support import unavailable

CHROMIUM = os.environ.get("SVCAUTH_CHROMIUM", "/usr/bin/chromium")

# Flags for a closed network: no background connections that the machine would refuse.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


@contextmanager
def chromium_page(**context_options: Any) -> Iterator[Any]:
    """A Playwright page in headless Chromium (``context_options`` go to ``new_context``)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the browser", "Playwright for Python is not installed (pip install playwright)")
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        unavailable("the browser", f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900},
                                          **context_options)
            yield context.new_page()
        finally:
            browser.close()
