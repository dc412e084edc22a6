"""HTML tables of numbers: the leaderboard on the index, a run's metrics with their 95% intervals, and its
per-subset breakdowns (VQA answer types, NoCaps domains, retrieval recall at each K).

Every text that comes from a run (metric names, subset names, run names) goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import pandas as pd

import tasks

# The columns a leaderboard table shows per kind of task (the rest stays in the run pages and the CSV).
HEADLINE = ("accuracy", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "SPICE", "TR@1", "TR@5", "IR@1", "IR@5", "R_mean")


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


def leaderboard_html(frame: pd.DataFrame, links: Mapping[tuple[str, str, str], str]) -> str:
    """The index's leaderboard, from :func:`bench.leaderboard.build_leaderboard`'s frame: per task and split, one
    row per run and its headline metrics (whole split), each with its 95% interval, and the paper's value where
    the paper has one; ``links`` maps (run, task, split) to the run's page. Kept to this one function so that
    another rendering of the leaderboard can replace it."""
    ours = frame[frame["run"].notna() & (frame["subset"] == "all") & frame["metric"].isin(HEADLINE)]
    if ours.empty:
        return '<p class="note">No run of this report has a headline metric.</p>'
    order = {name: i for i, name in enumerate(tasks.names())}  # the paper's order: VQA, captioning, retrieval
    groups = sorted(ours.groupby(["task", "split"], sort=True), key=lambda g: (order.get(g[0][0], len(order)), g[0]))
    parts = []
    for (task, split), group in groups:
        metrics = [m for m in HEADLINE if m in set(group["metric"])]
        same = bool((group["model"].astype(str) == group["run"].astype(str)).all())  # one name column is enough
        rows = []
        for (model, run), per_run in group.groupby(["model", "run"], sort=True):
            by_metric = {r.metric: r for r in per_run.itertuples()}
            href = links.get((str(run), str(task), str(split)))
            name = f'<a href="{escape(href)}">{escape(str(run))}</a>' if href else escape(str(run))
            cells = [name] if same else [escape(str(model)), name]
            for metric in metrics:
                r = by_metric.get(metric)
                if r is None:
                    cells.append("")
                    continue
                pair = None if pd.isna(r.low) else (r.low, r.high)
                paper = "" if pd.isna(r.paper) else f'<span class="ci">paper {escape(number(r.paper))}</span>'
                cells.append(cell(None if pd.isna(r.ours) else r.ours, pair) + paper)
            rows.append(cells)
        names = ["run"] if same else ["model", "run"]
        parts.append(f"<div><h3>{escape(str(task))} · {escape(str(split))}</h3>"
                     + table([*names, *metrics], rows, labels=len(names)) + "</div>")
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
