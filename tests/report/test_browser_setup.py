"""Without Chromium the browser tests skip with the install command, except under CI, where they fail."""

from __future__ import annotations

import shutil

from bench.report import chromium


def test_a_missing_browser_names_the_packages_to_install(monkeypatch):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.delenv("CHROMEDRIVER", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert chromium.find_browser() == (None, None)
    assert "apt-get install chromium chromium-driver" in chromium.missing_reason()


def test_ci_fails_where_a_laptop_skips():
    reason = "no chromium on PATH: apt-get install chromium chromium-driver"
    assert chromium.when_missing(reason, {"CI": "true"})[0] == "fail"
    action, message = chromium.when_missing(reason, {})
    assert action == "skip" and "apt-get install chromium chromium-driver" in message
    assert chromium.when_missing(reason, {"CI": "false"})[0] == "skip"


def test_the_system_driver_is_found_when_named(monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setenv("CHROMEDRIVER", str(tmp_path / "chromedriver"))
    assert chromium.find_browser() == (str(tmp_path / "chromium"), str(tmp_path / "chromedriver"))
