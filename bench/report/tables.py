"""HTML tables of numbers: the leaderboard's pivots on the index, a run's metrics with their 95% intervals, and its
per-subset breakdowns (VQA answer types, NoCaps domains, retrieval recall at each K).

Every text that comes from a run (metric names, subset names, run names) goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import pandas as pd

from bench.leaderboard_pivot import PAPER, pivot_tables
from bench.toy_references import ToyReferences


def number(value: Any, digits: int = 2) -> str:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return f"{value:.{digits}f}" if ok else "—"


def signed(value: Any) -> str:
    """A difference, with its sign always shown."""
    text = number(value)
    return text if text == "—" or text.startswith("-") else "+" + text


def interval(pair: Any) -> str:
    if isinstance(pair, list | tuple) and len(pair) == 2:
        return f"[{number(pair[0])}, {number(pair[1])}]"
    return ""


def cell(value: Any, pair: Any = None) -> str:
    """A value with its 95% interval beneath it, small."""
    ci = interval(pair)
    return f'{escape(number(value))}' + (f'<span class="ci">{escape(ci)}</span>' if ci else "")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], labels: int = 1) -> str:
    """``rows`` are cells already escaped (they may hold markup made here); ``headers`` are plain text. The first
    ``labels`` columns are text, the others numbers (aligned right)."""
    head = "".join(f'<th{" class=num" if i >= labels else ""}>{escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i >= labels else ""}>{c}</td>' for i, c in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def leaderboard_html(frame: pd.DataFrame, links: Mapping[tuple[str, str, str], str],
                     references: ToyReferences | None = None) -> str:
    """The index's leaderboard: the pivot tables of ``leaderboard.md`` (:func:`bench.leaderboard_pivot.pivot_tables`)
    that hold a run of this report, each number with its 95% interval and, beside it, the paper's value, Δ and
    status, or the toy chance level and reference. ``links`` maps (run, task, split) to the run's page."""
    tables = [t for t in pivot_tables(frame, references) if t.has_runs]
    if not tables:
        return '<p class="note">No run of this report has a headline metric.</p>'
    parts = []
    for pivot in tables:
        keys = pivot.key_headers
        rows = []
        for row in (r for r in pivot.rows if r.run):
            href = links.get((row.run, row.task, row.split))
            cells = []
            for key in keys:
                text = escape(str(getattr(row, key)))
                linked = key == ("run" if "run" in keys else "model")
                cells.append(f'<a href="{escape(href)}">{text}</a>' if href and linked else text)
            for column in pivot.columns:
                found = row.cells.get(column.metric)
                if found is None or found.value(column.side) is None:
                    cells.append("")
                elif column.side is None:
                    pair = None if found.low is None else (found.low, found.high)
                    cells.append(cell(found.ours, pair))
                else:
                    cells.append(escape(found.text(column.side)))
            if pivot.section == PAPER:
                cells.append(escape(row.status))
            rows.append(cells)
        headers = pivot.headers
        notes = "".join(f'<p class="note">{escape(note)}</p>' for note in pivot.notes)
        parts.append(f"<div><h3>{escape(pivot.title)}</h3>" + table(headers, rows, labels=len(keys)) + notes
                     + "</div>")
    return '<div class="boards">' + "\n".join(parts) + "</div>"


def metrics_table(metrics: Mapping[str, Any], ci95: Mapping[str, Any] | None) -> str:
    """Every whole-split number of a run with its 95% interval (metrics without one say so with a dash)."""
    ci95 = ci95 or {}
    rows = [[escape(name), escape(number(value)), escape(interval(ci95.get(name)) or "—")]
            for name, value in metrics.items() if not isinstance(value, dict)]
    return table(["metric", "value", "95% interval"], rows)


def breakdowns(metrics: Mapping[str, Any], ci95: Mapping[str, Any] | None) -> str:
    """The per-subset tables a run has: answer types (and question types, folded), NoCaps domains, recall@K."""
    ci95 = ci95 or {}
    parts = []
    for key, title in (("accuracy_by_answer_type", "Accuracy by answer type"),
                       ("accuracy_by_question_type", "Accuracy by question type")):
        values = metrics.get(key)
        if isinstance(values, dict) and values:
            bounds = ci95.get(key) if isinstance(ci95.get(key), dict) else {}
            rows = [[escape(str(name)), cell(value, bounds.get(name))] for name, value in values.items()]
            body = table(["subset", "accuracy"], rows)
            if key == "accuracy_by_question_type":
                parts.append(f"<details><summary>{escape(title)} ({len(values)})</summary>{body}</details>")
            else:
                parts.append(f"<h3>{escape(title)}</h3>{body}")
    domains = metrics.get("by_domain")
    if isinstance(domains, dict) and domains:
        names = [m for m in next((d for d in domains.values() if isinstance(d, dict)), {}) if m != "n"]
        bounds = ci95.get("by_domain") if isinstance(ci95.get("by_domain"), dict) else {}
        rows = []
        for domain, values in domains.items():
            values = values if isinstance(values, dict) else {}
            per = bounds.get(domain) if isinstance(bounds.get(domain), dict) else {}
            rows.append([escape(str(domain)), escape(str(values.get("n", "")))]
                        + [cell(values.get(m), per.get(m)) for m in names])
        parts.append("<h3>By domain</h3>" + table(["domain", "images", *names], rows))
    if any(f"{d}@{k}" in metrics for d in ("TR", "IR") for k in (1, 5, 10)):
        rows = []
        for direction, title in (("TR", "text retrieval (image → text)"), ("IR", "image retrieval (text → image)")):
            rows.append([escape(f"{direction}: {title}")]
                        + [cell(metrics.get(f"{direction}@{k}"), ci95.get(f"{direction}@{k}")) for k in (1, 5, 10)]
                        + [cell(metrics.get(f"{direction}_mean"), ci95.get(f"{direction}_mean"))])
        parts.append("<h3>Recall at each K</h3>" + table(["direction", "R@1", "R@5", "R@10", "mean"], rows))
    return "\n".join(parts)


def definition_list(items: Sequence[tuple[str, Any]]) -> str:
    """``<dl>`` of label: value; values that are not text are shown as compact JSON."""
    import json

    out = []
    for label, value in items:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.append(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>")
    return "<dl>" + "".join(out) + "</dl>"
