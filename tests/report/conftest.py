"""A small world of runs and its report, made once for the report's tests (a few seconds)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bench.cli import main
from tests.report.synthetic import World, make_world


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    return make_world(tmp_path_factory.mktemp("report-world"))


@pytest.fixture(scope="session")
def report(world: World, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    assert main(["report", str(world.runs), "--output", str(out), "--bootstrap-iters", "200"]) == 0
    return out


class _Options(HTMLParser):
    """Each ``<select data-facet>``'s options: facet -> [(label, data-count)]."""

    def __init__(self) -> None:
        super().__init__()
        self.facets: dict[str, list[tuple[str, int]]] = {}
        self._facet: str | None = None
        self._count: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "select" and "data-facet" in attributes:
            self._facet = attributes["data-facet"]
            self.facets[self._facet] = []
        elif tag == "option" and self._facet is not None:
            self._count = int(attributes["data-count"] or 0)

    def handle_data(self, data: str) -> None:
        if self._facet is not None and self._count is not None:
            self.facets[self._facet].append((data, self._count))
            self._count = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._facet = None


def facet_counts(page: Path) -> dict[str, list[tuple[str, int]]]:
    """The filter options a page shows, with the counts Python wrote into them (first option: "all")."""
    parser = _Options()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.facets


def chunk_rows(report: Path, slug: str) -> list[dict[str, Any]]:
    """Every row of a browser's data files, in order (the JSON inside each ``__reportChunk(...)`` call)."""
    rows: list[dict[str, Any]] = []
    for path in sorted((report / "data" / slug).glob("chunk-*.js")):
        match = re.fullmatch(r"window\.__reportChunk\((\"[^\"]*\"),(\d+),(.*)\);\n", path.read_text(encoding="utf-8"),
                             re.DOTALL)
        assert match is not None, path
        assert json.loads(match.group(1)) == slug
        rows += json.loads(match.group(3))
    return rows
