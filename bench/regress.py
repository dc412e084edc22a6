"""The CI gate: compare current runs with a baseline and report regressions as a PR comment (or JSON).

All metrics are higher-is-better, so a regression is ``current < baseline - tolerance``. A baseline metric
that the current runs lack is its own outcome (exit 2): a gate that silently skips what it cannot find would
pass a checkpoint whose run crashed half-way. For the same reason a partial current run (``--limit``, skipped
images, trimmed annotation files) fails like a regression (exit 1) unless ``allow_partial``: its numbers are
of a smaller split than the baseline's.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench import markdown
from bench.errors import BenchError
from bench.gate import DEFAULT_ALPHA, FLAT, HOLM, PAIRED, Pairs, adjust
from bench.paper import PAPER_COLUMNS
from bench.run_folders import RunFolderError, collect_runs, read_metrics_json, results_frame
from bench.tolerance import EPSILON, Tolerances
from blip2.suggest import did_you_mean
from tasks.atomic import atomic_write_text
from tasks.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED, P_VALUE_METHOD, format_p

KEY = ["model", "task", "split", "subset", "metric"]
MATCH = ["task", "split", "subset", "metric"]
PASS, REGRESSION, MISSING, PARTIAL = "✅ pass", "❌ regression", "⚠️ missing", "❌ partial run"
EXIT_OK, EXIT_REGRESSION, EXIT_MISSING = 0, 1, 2


class BaselineError(BenchError):
    """A baseline file that cannot be read or is ambiguous; the message names the file."""


def check_models(wanted: list[str], known: list[str], where: str) -> None:
    """Each --model must name a model of `where`; a typo gets a suggestion instead of an empty comparison."""
    for model in wanted:
        if model not in known:
            raise BaselineError(f"--model {model!r} is not a model of {where}.{did_you_mean(model, known)} "
                                f"Its models: {', '.join(known) or 'none'}")


def load_baseline(path: Path, models: list[str] | None = None) -> pd.DataFrame:
    """A baseline as rows ``model, task, split, subset, metric, value``.

    ``path`` is a CSV with the paper's columns (``table`` optional, ``subset`` defaults to ``all``), one
    ``metrics.json``, or a runs directory such as a baseline bundle. For run results, ``model`` is the run
    name and ``source`` the ``metrics.json`` (whose folder may hold per-sample records); a CSV row has none.
    """
    path = Path(path)
    if path.is_dir():
        frame = results_frame(collect_runs(path)).rename(columns={"run": "model"})
    elif path.suffix.lower() == ".json":
        frame = results_frame([read_metrics_json(path)]).rename(columns={"run": "model"})
    elif path.is_file():
        frame = _read_baseline_csv(path)
    else:
        raise BaselineError(f"baseline {path} does not exist")
    frame = frame.assign(source=frame["source"] if "source" in frame else "")
    frame = frame[frame["value"].notna()][KEY + ["value", "source"]]
    if models:
        check_models(models, sorted(set(frame["model"])), f"baseline {path}")
        frame = frame[frame["model"].isin(models)]
    values = frame.groupby(KEY, sort=False)["value"].agg(lambda v: sorted(set(v)))
    conflicts = values[values.map(len) > 1]
    if len(conflicts):
        key, found = conflicts.index[0], conflicts.iloc[0]
        raise BaselineError(f"baseline {path}: {'/'.join(key)} has conflicting values {found}")
    return frame.drop_duplicates(KEY).reset_index(drop=True)


def _read_baseline_csv(path: Path) -> pd.DataFrame:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline {path}: cannot read it ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    needed = {"model", "task", "split", "metric", "value"}
    missing = sorted(needed - set(reader.fieldnames or ()))
    if missing:
        raise BaselineError(
            f"baseline {path}: missing column(s) {', '.join(missing)}; expected {','.join(PAPER_COLUMNS)}"
        )
    rows = []
    for line_no, row in enumerate(reader, start=2):
        try:
            value = float(row["value"])
        except (TypeError, ValueError):
            raise BaselineError(f"baseline {path} line {line_no}: value {row['value']!r} is not a number") from None
        if not math.isfinite(value):
            raise BaselineError(f"baseline {path} line {line_no}: value {row['value']!r} is not finite")
        if not all(row.get(c) for c in ("model", "task", "split", "metric")):
            raise BaselineError(f"baseline {path} line {line_no}: model, task, split and metric must be filled")
        rows.append((row["model"], row["task"], row["split"], row.get("subset") or "all", row["metric"], value))
    return pd.DataFrame(rows, columns=KEY + ["value"]).astype({"value": float})


@dataclass(frozen=True)
class Comparison:
    """The compared rows plus the gate's verdict, and how the paired rule was applied."""

    rows: pd.DataFrame
    exit_code: int
    notes: tuple[str, ...]
    alpha: float = DEFAULT_ALPHA
    correction: str = HOLM
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED


def _pick_run(model: str, task: str, split: str, current: pd.DataFrame) -> str | None:
    """The current run answering to ``model``: the run of that name, else the one run of that zoo model."""
    here = current[(current["task"] == task) & (current["split"] == split)]
    if (here["run"] == model).any():
        return model
    runs = sorted(set(here.loc[here["zoo"] == model, "run"]))
    if len(runs) > 1:
        raise BaselineError(
            f"baseline model {model!r} ({task} {split}) matches several runs ({', '.join(runs)}); "
            "choose one with --run NAME"
        )
    return runs[0] if runs else None


COLUMNS = ["model", "run", "task", "split", "subset", "metric", "baseline", "current", "delta", "tolerance", "status",
           "partial", "rule", "ci_low", "ci_high", "p_value", "p_adjusted"]


def compare(
    baseline: pd.DataFrame,
    current: pd.DataFrame,
    tolerances: Tolerances,
    run: str | None = None,
    allow_partial: bool = False,
    alpha: float = DEFAULT_ALPHA,
    correction: str = HOLM,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Comparison:
    """Match each baseline row with the current runs (``results_frame`` rows) and judge it.

    With ``run``, every baseline row is compared with that run whatever the baseline's model is (gating a new
    checkpoint against an old one's numbers), so the baseline must hold one model per task/split/metric.
    A row from a partial current run gets the status :data:`PARTIAL` (exit 1) unless ``allow_partial``, which
    judges it as usual and keeps it marked partial in the report.

    A row whose baseline and current run folders both keep per-sample records, of a metric the task's statistic
    covers, is judged by the paired rule (:mod:`bench.gate`): Δ is the paired difference on the shared samples,
    and it is a regression only when below −tolerance with an adjusted p-value below ``alpha``, the correction
    running across every row judged so. Every other row keeps the flat rule ``current < baseline − tolerance``.
    """
    if run is not None:
        dup = baseline[baseline.duplicated(MATCH, keep=False)]
        if len(dup):
            models = ", ".join(sorted(set(dup["model"])))
            raise BaselineError(
                f"the baseline holds several models ({models}) for the same metric; pick one with --model"
            )
        if not (current["run"] == run).any():
            raise BaselineError(f"no current run is named {run!r}; runs: {', '.join(sorted(set(current['run'])))}")
    rows, notes = [], []
    pairs = Pairs(resamples, seed)
    for b in baseline.itertuples(index=False):
        name = run if run is not None else _pick_run(b.model, b.task, b.split, current)
        hit = current[(current["run"] == name) & (current["task"] == b.task) & (current["split"] == b.split)]
        found = hit[(hit["subset"] == b.subset) & (hit["metric"] == b.metric)]
        value = float(found["value"].iloc[0]) if len(found) else math.nan
        row = {"model": b.model, "run": name or "", "task": b.task, "split": b.split, "subset": b.subset,
               "metric": b.metric, "baseline": b.value, "current": value, "delta": value - b.value,
               "tolerance": tolerances.for_metric(b.metric), "status": PASS,
               "partial": bool(len(found)) and bool(found["partial"].iloc[0]), "rule": FLAT,
               "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan, "p_adjusted": math.nan}
        if math.isnan(value):
            row["status"] = MISSING
            if name is None:
                notes.append(f"no current run of {b.model} on {b.task} {b.split}")
            elif not len(hit):
                notes.append(f"run {name} has no {b.task}-{b.split} folder")
            else:
                notes.append(f"run {name} {b.task}-{b.split} has no value for {b.metric} ({b.subset})")
        else:
            if getattr(b, "source", ""):
                differences, note = pairs.get(b.source, str(found["source"].iloc[0]))
                notes += [note] if note else []
                diff = differences.get((b.subset, b.metric))
                if diff is not None:
                    row.update(rule=PAIRED, baseline=diff.a, current=diff.b, delta=diff.delta, ci_low=diff.low,
                               ci_high=diff.high, p_value=diff.p_value)
            if row["partial"]:
                reason = found["partial_reason"].iloc[0] or "partial"
                verdict = "compared anyway (--allow-partial)" if allow_partial else (
                    "not compared: pass --allow-partial to compare it anyway")
                notes.append(f"run {name} {b.task}-{b.split} is partial ({reason}); {verdict}")
                row["status"] = PASS if allow_partial else PARTIAL
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    _judge(frame, alpha, correction)
    statuses = set(frame["status"])
    failed = bool(statuses & {REGRESSION, PARTIAL})
    code = EXIT_MISSING if MISSING in statuses else EXIT_REGRESSION if failed else EXIT_OK
    return Comparison(frame, code, tuple(dict.fromkeys(notes)), alpha, correction, resamples, seed)


def _judge(frame: pd.DataFrame, alpha: float, correction: str) -> None:
    """Set the status of every compared row: the paired rule (adjusted together) or the flat rule."""
    judged = frame["status"] == PASS
    paired = judged & (frame["rule"] == PAIRED)
    frame.loc[paired, "p_adjusted"] = adjust(list(frame.loc[paired, "p_value"]), correction)
    beyond = frame["delta"] < -frame["tolerance"] - EPSILON
    significant = frame["p_adjusted"] < alpha
    regressed = judged & beyond & ((frame["rule"] == FLAT) | significant)
    frame.loc[regressed, "status"] = REGRESSION


def _fmt(value: float, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _rules(result: Comparison) -> str:
    """Which rule judged how many rows, stated so a reader of the PR comment can check the verdict."""
    compared = result.rows[result.rows["status"].isin([PASS, REGRESSION])]
    tested = int((compared["rule"] == PAIRED).sum())
    flat = f"a regression is current < baseline − tolerance ({FLAT} rule)"
    if not tested:
        return f"Every metric uses the {FLAT} rule: {flat}; no metric had per-sample records on both sides."
    correction = (f"Holm's correction across these {tested}" if result.correction == HOLM
                  else "no multiple-testing correction (--correction none)")
    return (f"**{tested} metric(s) tested with the {PAIRED} rule** (per-sample records on both sides): baseline, "
            f"current and Δ are recomputed on the samples both runs share, and a regression is Δ < −tolerance "
            f"*and* p < {result.alpha:g} after {correction}. p: {P_VALUE_METHOD}; {result.resamples} resamples, "
            f"seed {result.seed}. The other {len(compared) - tested} compared metric(s): {flat}.")


FAILING = (REGRESSION, PARTIAL, MISSING)


def _name(r) -> str:
    subset = "" if r.subset == "all" else f" {r.subset}"
    return f"{r.model if r.run in ('', r.model) else r.run} {r.task} {r.split}{subset} {r.metric}"


def _significant(result: Comparison) -> pd.Series:
    """Rows the paired rule found changed beyond noise (adjusted p below alpha), in either direction."""
    rows = result.rows
    return (rows["rule"] == PAIRED) & (rows["p_adjusted"] < result.alpha) & ~rows["status"].isin(FAILING)


def _failing(rows: pd.DataFrame) -> pd.DataFrame:
    """The failing rows, most telling first: by kind of failure, whole splits before their subsets, then the
    largest drop first (so the verdict names a headline metric's fall, not the table's first rows)."""
    failing = rows[rows["status"].isin(FAILING)]
    keys = pd.DataFrame({"status": failing["status"].map(FAILING.index), "subset": failing["subset"] != "all",
                         "delta": failing["delta"].fillna(0.0)}, index=failing.index)
    return failing.loc[keys.sort_values(["status", "subset", "delta"], kind="stable").index]


def verdict(result: Comparison) -> str:
    """The report's first line: what failed (up to three named), or that everything passed and under which rules."""
    rows = result.rows
    counts = rows["status"].value_counts()
    failing = _failing(rows)
    if len(failing):
        parts = []
        if MISSING in counts:
            parts.append(f"{counts[MISSING]} metric(s) missing from the runs")
        if REGRESSION in counts:
            parts.append(f"{counts[REGRESSION]} regression(s)")
        if PARTIAL in counts:
            parts.append(f"{counts[PARTIAL]} metric(s) of partial runs not compared (--allow-partial compares them)")
        named = ", ".join(_name(r) + ("" if math.isnan(r.delta) else f" {r.delta:+.2f}")
                          for r in failing.head(3).itertuples())
        more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
        icon = "⚠️" if result.exit_code == EXIT_MISSING else "❌"
        return f"{icon} {'; '.join(parts)}: {named}{more}"
    paired = int((rows["rule"] == PAIRED).sum())
    changes = int(_significant(result).sum())
    return (f"✅ no regression: {len(rows)}/{len(rows)} metrics pass (paired rule on {paired}, flat rule on "
            f"{len(rows) - paired}); " + (f"{changes} significant change(s) within the tolerance" if changes
                                           else "no significant change"))


def _table(rows: pd.DataFrame, result: Comparison) -> str:
    p_header = "p (Holm-adjusted)" if result.correction == HOLM else "p (no correction)"
    body = [
        [r.model if r.run in ("", r.model) else f"{r.model} → {r.run}", r.task, r.split, r.subset, r.metric,
         _fmt(r.baseline), _fmt(r.current), _fmt(r.delta, signed=True), f"{r.tolerance:g}",
         f"{r.status} (partial run)" if r.partial and r.status != PARTIAL else r.status, r.rule,
         "—" if math.isnan(r.ci_low) else f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]", format_p(r.p_adjusted)]
        for r in rows.itertuples()
    ]
    headers = ["model", "task", "split", "subset", "metric", "baseline", "current", "Δ", "tolerance", "status",
               "rule", "Δ 95% CI", p_header]
    return markdown.table(headers, body, "lllllrrrrllrr")


def to_markdown(result: Comparison, tolerances: Tolerances, baseline_name: str) -> str:
    """A PR comment: the verdict line; then only what needs a look (failures first, then the changes the paired
    rule found significant, in either direction) and the notes; then every metric in a collapsed block."""
    rows = result.rows
    counts = rows["status"].value_counts()
    failing = _failing(rows)
    changed = rows[_significant(result)].sort_values("p_adjusted", kind="stable")
    parts = [
        f"### BLIP-2 regression check: {verdict(result)}\n",
        f"Baseline `{baseline_name}`; {len(rows)} metric(s): "
        + ", ".join(f"{s} {counts[s]}" for s in (PASS, REGRESSION, MISSING, PARTIAL) if s in counts)
        + f"; tolerance {tolerances.describe()}.\n",
    ]
    if len(failing) or len(changed):
        parts.append(f"**Failures and significant changes**: {len(failing)} failing; {len(changed)} passing "
                     f"change(s) beyond noise (paired rule, adjusted p < {result.alpha:g}), up or down.\n")
        parts.append(_table(pd.concat([failing, changed]), result) + "\n")
    if result.notes:
        parts.append("\n".join(f"- {note}" for note in result.notes) + "\n")
    parts.append(f"<details>\n<summary>All {len(rows)} metrics</summary>\n\n{_rules(result)}\n\n"
                 f"{_table(rows, result)}\n\n</details>\n")
    return "\n".join(parts)


def to_json(result: Comparison, tolerances: Tolerances, baseline_name: str) -> str:
    """The same report for scripts: the verdict, how it was judged, and every row (NaN as null)."""
    records = result.rows.astype(object).where(result.rows.notna(), None).to_dict(orient="records")
    return json.dumps({
        "verdict": verdict(result), "exit_code": result.exit_code, "baseline": baseline_name,
        "tolerance": tolerances.describe(), "alpha": result.alpha, "correction": result.correction,
        "resamples": result.resamples, "seed": result.seed, "p_value_method": P_VALUE_METHOD,
        "notes": list(result.notes), "rows": records,
    }, indent=1, ensure_ascii=False) + "\n"


def write_baseline(current: pd.DataFrame, path: Path) -> int:
    """Snapshot the current runs as a baseline CSV (paper columns, ``model`` = run name); returns the row count."""
    rows = current[current["value"].notna()]
    if not len(rows):
        raise RunFolderError("there are no run results to snapshot; run 'python -m bench run' first")
    out = pd.DataFrame(
        {
            "table": "",
            "model": rows["run"],
            "task": rows["task"],
            "split": rows["split"],
            "subset": rows["subset"],
            "metric": rows["metric"],
            "value": rows["value"],
        }
    )
    atomic_write_text(path, out[list(PAPER_COLUMNS)].to_csv(index=False, lineterminator="\n"))
    return len(out)
