"""Fixtures for the registry/format/score tests: a fresh tiny data root per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.registry.fixture_data import build_data_root


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    return build_data_root(tmp_path / "data")
