"""The distribution's headless Chromium, driven by Selenium: for the report's browser tests, its benchmark and
the README's screenshot.

Selenium would otherwise fetch a browser and a driver of its own (Selenium Manager), which fails offline and
is not what CI installs, so the driver is always the system's ``chromedriver`` with the system's ``chromium``
(Debian: ``apt-get install chromium chromium-driver``), and the browser is told not to reach the network.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

INSTALL = "apt-get install chromium chromium-driver"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars")


def find_browser() -> tuple[str | None, str | None]:
    """Paths of the system's Chromium and chromedriver (``$CHROMIUM`` / ``$CHROMEDRIVER`` first), or None."""
    browser = os.environ.get("CHROMIUM") or next((p for p in map(shutil.which, BROWSERS) if p), None)
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    return browser, driver


def missing_reason() -> str | None:
    """Why no browser test can run here, with the fix; None when Chromium, its driver and Selenium are all there."""
    browser, driver = find_browser()
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[dev]'"
    if browser is None or driver is None:
        return f"no {'chromium' if browser is None else 'chromedriver'} on PATH: {INSTALL}"
    return None


def when_missing(reason: str, environ: dict[str, str] | None = None) -> tuple[str, str]:
    """What a test that needs the browser does without it: ``("fail", why)`` under CI (``CI=true``), where
    ``.ci/run`` installs it, else ``("skip", why and how to install it)``."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get("CI", "").lower() == "true":
        return "fail", f"CI=true but the browser tests cannot run: {reason}"
    return "skip", f"the browser tests need Chromium and its driver: {reason}"


def start(profile: Path, width: int = 1360, height: int = 900) -> Any:
    """A headless Chromium WebDriver with a fresh profile in ``profile`` (a folder of the caller's)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = find_browser()
    if browser is None or driver is None:
        raise RuntimeError(missing_reason() or INSTALL)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console errors, for the tests to read
    return webdriver.Chrome(service=Service(driver), options=options)


def wait_rendered(driver: Any, renders: int, timeout: float = 30.0) -> None:
    """Wait until the page's sample browser has drawn ``renders`` pages (its ``data-renders``) and every
    thumbnail on it has loaded."""
    from selenium.webdriver.support.ui import WebDriverWait

    def done(d: Any) -> bool:
        return bool(d.execute_script(
            "var b = document.querySelector('section.browser');"
            "if (!b || Number(b.dataset.renders || 0) < arguments[0]) return false;"
            "return Array.from(b.querySelectorAll('img')).every(function (i) { return i.complete; });", renders))

    WebDriverWait(driver, timeout, poll_frequency=0.005).until(done)  # polled often: the benchmark times pages
