"""The browser's data as script files: ``data/<slug>/chunk-0000.js``, ... and ``data/<slug>/facets.js``.

A report opened from ``file://`` cannot ``fetch()`` its own files (Chromium refuses), but it can add a
``<script src>``. So each file calls a function the page defines, with its JSON as the argument
(``window.__reportChunk("<slug>", 0, [...])``), and the page adds the script of a chunk when it needs it.
Rows go :data:`CHUNK_ROWS` to a file: a page of 50 rows needs one or two files, never the whole run, so
VQAv2 val's 214k questions page as fast as 300. The facets file (each row's filter values, small integers)
is loaded once, so filtering by score or answer type never loads the rows themselves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report.rows import Facet

CHUNK_ROWS = 1000
DATA = "data"


def chunk_name(index: int) -> str:
    return f"chunk-{index:04d}.js"


def _json(value: Any) -> str:
    # Script files are not parsed as HTML, yet "</" is escaped anyway so the same text is safe inline too.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def write_chunks(root: Path, slug: str, rows: Sequence[dict[str, Any]], facets: Sequence[Facet]) -> Path:
    """Write one table's chunk and facet files under ``root/data/<slug>/``; returns that folder."""
    folder = root / DATA / slug
    folder.mkdir(parents=True, exist_ok=True)
    name = _json(slug)
    for index, start in enumerate(range(0, len(rows), CHUNK_ROWS)):
        text = f"window.__reportChunk({name},{index},{_json(list(rows[start:start + CHUNK_ROWS]))});\n"
        (folder / chunk_name(index)).write_text(text, encoding="utf-8")
    codes = {facet.key: facet.codes for facet in facets}
    (folder / "facets.js").write_text(f"window.__reportFacets({name},{_json(codes)});\n", encoding="utf-8")
    return folder


def chunk_count(rows: int) -> int:
    return (rows + CHUNK_ROWS - 1) // CHUNK_ROWS
