"""The report's HTML pages: the index, one page per run, one per compared pair.

Pages are plain strings put together here; every text that comes from a run, a data set or a model passes
through :func:`html.escape` (data attributes included), and the browser's rows are rendered by
``assets/report.js`` with ``textContent`` only. The pages need no server and no network: styles and script
are files in the report's ``assets/`` folder, the rows are script files under ``data/``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

from bench.report.chunks import CHUNK_ROWS, DATA, chunk_count
from bench.report.comparing import Comparison
from bench.report.inputs import ReportRun
from bench.report.rows import SampleTable
from bench.report.tables import breakdowns, cell, definition_list, metrics_table, number, signed, table
from tasks.stats.resample import format_p

PAGE_ROWS = 50
HEADLINE = ("accuracy", "CIDEr", "R_mean")


def run_href(run: ReportRun) -> str:
    return f"runs/{run.slug}.html"


def compare_href(comparison: Comparison) -> str:
    return f"compare/{comparison.slug}.html"


def page(title: str, body: str, depth: int) -> str:
    """A whole page; ``depth`` is how many folders below the report's root it sits (for relative links)."""
    up = "../" * depth
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title>"
            f'<link rel="stylesheet" href="{up}assets/report.css"></head>\n<body>'
            f'<header class="top"><a class="home" href="{up}index.html">blip2-bench report</a></header>\n'
            f"<main>\n{body}\n</main>\n"
            f'<script src="{up}assets/report.js"></script>\n</body></html>\n')


def notes_html(notes: Sequence[str]) -> str:
    return "".join(f'<p class="note">{escape(n)}</p>' for n in notes)


def headline(run: ReportRun) -> str:
    metrics, ci95 = run.result.metrics, run.result.ci95 or {}
    for name in HEADLINE:
        if name in metrics:
            return f'<span class="metric-name">{escape(name)}</span> {cell(metrics[name], ci95.get(name))}'
    return ""


# --- the index ----------------------------------------------------------------------------------------------


def _provenance(record: dict[str, Any]) -> list[tuple[str, Any]]:
    prov = record.get("provenance") if isinstance(record.get("provenance"), dict) else {}
    checkpoint = prov.get("checkpoint") if isinstance(prov.get("checkpoint"), dict) else {}
    items: list[tuple[str, Any]] = [("checkpoint", str(checkpoint.get("source", "—")))]
    files = checkpoint.get("files") if isinstance(checkpoint.get("files"), list) else []
    hashes = [f.get("sha256") for f in files if isinstance(f, dict) and f.get("sha256")]
    if checkpoint.get("sha256"):
        hashes.append(checkpoint["sha256"])
    items.append(("sha256", ", ".join(str(h)[:16] + "…" for h in hashes) or "—"))
    versions = prov.get("versions") if isinstance(prov.get("versions"), dict) else {}
    items.append(("versions", " · ".join(f"{k} {v}" for k, v in versions.items()) or "—"))
    if prov.get("git_commit"):
        items.append(("git commit", str(prov["git_commit"])[:12]))
    items.append(("device", str(prov.get("device", "—"))))
    precision = prov.get("precision")
    items.append(("precision", " · ".join(f"{k} {v}" for k, v in precision.items())
                  if isinstance(precision, dict) else str(precision or "—")))
    return items


def _timing(record: dict[str, Any]) -> list[tuple[str, Any]]:
    timing = record.get("timing") if isinstance(record.get("timing"), dict) else {}
    items = [("wall time", f"{number(timing.get('wall_s'), 1)} s"),
             ("samples/s", number(timing.get("samples_per_s"), 1))]
    if timing.get("processes"):
        items.append(("processes", str(timing["processes"])))
    return items


def run_card(run: ReportRun) -> str:
    record = run.record
    partial = (f'<span class="badge partial" title="{escape(run.result.partial_reason or "")}">partial</span>'
               if run.result.partial else "")
    settings = record.get("settings") if isinstance(record.get("settings"), dict) else {}
    shown = [(k, v) for k, v in settings.items() if v is not None and v is not False]
    return (f'<article class="run-card" data-slug="{escape(run.slug)}">'
            f'<h3><a href="{escape(run_href(run))}">{escape(run.result.run)}</a> '
            f'<span class="task">{escape(run.result.task)} · {escape(run.result.split)}</span>{partial}</h3>'
            f'<p class="headline">{headline(run)} <span class="n">n = {escape(str(run.result.n))}</span></p>'
            f"<h4>provenance</h4>{definition_list(_provenance(record))}"
            f"<h4>timing</h4>{definition_list(_timing(record))}"
            f"<details><summary>settings ({len(shown)})</summary>{definition_list(shown)}</details>"
            "</article>")


def _compare_list(comparisons: Sequence[Comparison], skipped: Sequence[str]) -> str:
    if not comparisons and not skipped:
        return ""
    rows = []
    for c in sorted(comparisons, key=lambda c: (c.a.result.task, c.a.result.split)):
        leaves = _first_leaf(c.report.get("metrics") or {})
        delta = ""
        if leaves is not None:
            name, leaf = leaves
            low, high, p = signed(leaf["ci95"][0]), signed(leaf["ci95"][1]), format_p(leaf["p_value"])
            delta = (f"{escape(name)} Δ {escape(signed(leaf['delta']))}"
                     f'<span class="ci">{escape(f"[{low}, {high}], p = {p}")}</span>')
        rows.append([f'<a href="{escape(compare_href(c))}">{escape(c.a.result.task)} · {escape(c.a.result.split)}</a>',
                     escape(c.a.result.run), escape(c.b.result.run),
                     escape("—" if c.changed is None else str(c.changed)), delta])
    body = table(["task", "A", "B", "samples changed", "headline (B − A)"], rows, labels=3) if rows else ""
    return '<section id="compare"><h2>Compare</h2>' + body + notes_html(skipped) + "</section>"


def _first_leaf(metrics: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    from bench.compare_report import metric_leaves

    leaves = dict(metric_leaves(metrics))
    for name in HEADLINE:
        if name in leaves:
            return name, leaves[name]
    return next(iter(leaves.items()), None)


def index_page(runs: Sequence[ReportRun], leaderboard: str, comparisons: Sequence[Comparison],
               skipped: Sequence[str], notes: Sequence[str]) -> str:
    tasks = sorted({(r.result.task, r.result.split) for r in runs})
    toc = ('<p class="toc"><a href="#leaderboard">leaderboard</a> · <a href="#compare">compare</a> · '
           '<a href="#runs">runs</a></p>')
    body = (f"<h1>Report of {len(runs)} run(s) on {len(tasks)} task split(s)</h1>{toc}{notes_html(notes)}"
            '<section id="leaderboard"><h2>Leaderboard</h2><p class="hint">Ours with its 95% bootstrap interval '
            "beneath; beside it the paper's value, Δ and status where the paper reports the row, or, for the toy "
            "models, the task's chance level and a reference from above (docs/toy-models.md). The same tables "
            f"open results/leaderboard.md.</p>{leaderboard}</section>"
            f"{_compare_list(comparisons, skipped)}"
            '<section id="runs"><h2>Runs</h2><div class="run-cards">' + "".join(run_card(r) for r in runs)
            + "</div></section>")
    return page("blip2-bench report", body, 0)


# --- run and compare pages ----------------------------------------------------------------------------------


def browser(table_: SampleTable, slug: str, depth: int, sides: Sequence[str] = ()) -> str:
    """The sample browser: filters with their counts (counted in Python), a pager, and the cards' container."""
    up = "../" * depth
    manifest = {"kind": table_.kind, "columns": table_.columns, "sideColumns": table_.side_columns,
                "sides": list(sides)}
    filters = []
    for facet in table_.facets:
        counts = facet.counts()
        options = [f'<option value="-1" data-count="{len(table_.rows)}">all ({len(table_.rows):,})</option>']
        options += [f'<option value="{i}" data-count="{count}">{escape(value)} ({count:,})</option>'
                    for i, (value, count) in enumerate(zip(facet.values, counts, strict=True))]
        filters.append(f'<label>{escape(facet.label)} <select data-facet="{escape(facet.key)}">'
                       + "".join(options) + "</select></label>")
    filters.append('<label>search <input type="search" id="search" placeholder="any text of a sample"></label>')
    header = "".join(f'<p class="hint"><b>{escape(k)}</b>: <span class="{"mono" if k == "prompt" else ""}">'
                     f"{escape(v)}</span></p>" for k, v in table_.header)
    buttons = ('<button type="button" class="prev">← previous</button><span class="page-label"></span>'
               '<button type="button" class="next">next →</button>')
    count = '<span class="count"><span id="match-count"></span> matching <span class="status"></span></span>'
    base = f"{up}{DATA}/{slug}"
    kind = "browser compare" if sides else "browser"
    return (f'<section class="{kind}" id="browser" data-slug="{escape(slug)}" data-root="{escape(up)}" '
            f'data-base="{escape(base)}" data-rows="{len(table_.rows)}" '
            f'data-chunk-rows="{CHUNK_ROWS}" data-chunks="{chunk_count(len(table_.rows))}" '
            f'data-page-rows="{PAGE_ROWS}" data-manifest="{escape(json.dumps(manifest, ensure_ascii=False))}">'
            f'{header}<div class="filters">{"".join(filters)}</div>'
            f'<div class="pager">{buttons}{count}</div><div class="cards"></div>'
            f'<div class="pager bottom">{buttons}</div></section>')


def run_page(run: ReportRun, table_: SampleTable | None, notes: Sequence[str]) -> str:
    record, metrics = run.record, run.result.metrics
    ci = record.get("ci") if isinstance(record.get("ci"), dict) else {}
    unit = ci.get("unit")
    unit = "; ".join(f"{v}" for v in unit.values()) if isinstance(unit, dict) else str(unit)
    how = (f"95% intervals: {ci.get('method', 'bootstrap')}, {ci.get('resamples', '?')} resamples of {unit}"
           if ci else "this run has no intervals (run with --bootstrap-iters > 0)")
    run_notes = [f"{k}: {v}" for k, v in (record.get("notes") or {}).items()] if isinstance(record.get("notes"),
                                                                                           dict) else []
    if run.result.partial:
        run_notes.insert(0, f"partial run: {run.result.partial_reason}")
    samples = (browser(table_, run.slug, 1) if table_ is not None else "")
    body = (f'<p class="crumbs"><a href="../index.html">index</a> › {escape(run.label)}</p>'
            f"<h1>{escape(run.result.run)} <span class=\"task\">{escape(run.result.task)} · "
            f"{escape(run.result.split)}</span></h1>"
            f'<p class="headline">{headline(run)} <span class="n">n = {escape(str(run.result.n))}</span></p>'
            f'<div class="two"><section><h2>Metrics</h2><p class="hint">{escape(how)}</p>'
            f"{metrics_table(metrics, run.result.ci95)}</section>"
            f"<section><h2>Breakdowns</h2>{breakdowns(metrics, run.result.ci95) or '<p class=hint>none</p>'}"
            f"</section></div>{notes_html(run_notes)}"
            f"<section><h2>Samples</h2>{notes_html(notes)}{samples}</section>")
    return page(f"{run.label} · blip2-bench report", body, 1)


def compare_page(comparison: Comparison) -> str:
    from bench.compare_report import metric_leaves

    a, b, report = comparison.a, comparison.b, comparison.report
    rows = [[escape(name), escape(number(leaf["a"])), escape(number(leaf["b"])), escape(signed(leaf["delta"])),
             escape(f"[{signed(leaf['ci95'][0])}, {signed(leaf['ci95'][1])}]"), escape(format_p(leaf["p_value"]))]
            for name, leaf in metric_leaves(report.get("metrics") or {})]
    rows += [[escape(name), escape(number(leaf["a"])), escape(number(leaf["b"])), escape(signed(leaf["delta"])),
              "—", "—"] for name, leaf in (report.get("not_compared") or {}).items()]
    headers = ["metric", "A", "B", "Δ", "95% interval of Δ", "p"]
    whole = [row for row in rows if "." not in row[0]]  # per-subset rows ("by_domain.in-domain.CIDEr") fold away
    subsets = [row for row in rows if "." in row[0]]
    metrics = table(headers, whole) + (f"<details><summary>per subset ({len(subsets)})</summary>"
                                       f"{table(headers, subsets)}</details>" if subsets else "")
    shared = report.get("shared") or {}
    counts = (f"{shared.get('shared', 0):,} shared samples ({shared.get('only_a', 0):,} only in A, "
              f"{shared.get('only_b', 0):,} only in B); Δ = B − A, paired bootstrap of {report['resamples']} "
              f"resamples, seed {report['seed']}") if shared else "no per-sample pairing for this task"
    reasons = sorted({leaf["reason"] for leaf in (report.get("not_compared") or {}).values()})
    samples = (browser(comparison.table, comparison.slug, 1, [f"A: {a.result.run}", f"B: {b.result.run}"])
               if comparison.table is not None else notes_html(["no per-sample rows to compare"]))
    body = (f'<p class="crumbs"><a href="../index.html">index</a> › compare</p>'
            f"<h1>{escape(a.result.task)} · {escape(a.result.split)}: "
            f"<span class=\"side-a\">A {escape(a.result.run)}</span> vs "
            f"<span class=\"side-b\">B {escape(b.result.run)}</span></h1>"
            f'<p class="hint">A: <a href="../{escape(run_href(a))}">{escape(a.label)}</a> · B: '
            f'<a href="../{escape(run_href(b))}">{escape(b.label)}</a> · {escape(counts)}</p>'
            + metrics + notes_html(reasons)
            + f"<section><h2>Samples whose score changed</h2>{samples}</section>")
    return page(f"compare {a.label} / {b.label}", body, 1)
