"""``bench report``'s work: read the runs, make thumbnails, write the data chunks and the pages, then put the
finished report in place.

The report is built in a fresh folder beside ``--output`` and swapped in at the end, so a report that fails
half-way (a bad ``--compare``, a full disk) leaves the previous one as it was. A folder is only ever replaced
when it is empty or holds the marker file a previous report left (:data:`MARKER`): nothing else of a user's
is deleted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bench.compare import CompareError
from bench.errors import BenchError
from bench.report import pages
from bench.report.chunks import write_chunks
from bench.report.comparing import Comparison, compare
from bench.report.inputs import ReportRun, collect_report_runs, compare_pairs
from bench.report.rows import SampleTable
from bench.report.samples import RunSamples
from bench.report.tables import leaderboard_html
from bench.report.thumbnails import DEFAULT_BUDGET_MB, MiB, Thumbnails
from bench.writable import check_output_folder
from tasks.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED

MARKER = ".blip2-bench-report"
ASSETS = ("report.css", "report.js")


@dataclass(frozen=True)
class ReportOptions:
    """How ``bench report`` reads the runs and what it adds (the command's flags)."""

    data_root: Path | None = None  # None: each run's recorded data root
    compare: Sequence[tuple[Path, Path]] | None = None  # None: every pair of runs of one task and split
    thumbnail_budget_mb: float = DEFAULT_BUDGET_MB
    bootstrap_iters: int = DEFAULT_RESAMPLES
    bootstrap_seed: int = DEFAULT_SEED


@dataclass
class ReportSummary:
    """What was written, for the command's last lines."""

    output: Path
    runs: int
    comparisons: int
    bytes: int
    notes: list[str] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.output / "index.html"


def check_report_folder(output: Path, flag: str = "--output") -> None:
    """``output`` can receive a report: a new or empty folder, or a previous report (which is replaced)."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise BenchError(f"{flag} {output} is a file; give a folder for the report (it holds index.html and more)")
    if output.is_dir() and any(output.iterdir()) and not (output / MARKER).exists():
        raise BenchError(f"{flag} {output} is a folder that holds other files and no earlier report ({MARKER}); "
                         "give a new or empty folder, so that nothing of yours is replaced")
    check_output_folder(output.parent if not output.exists() else output, flag)


def build_report(paths: Sequence[Path], output: Path, options: ReportOptions = ReportOptions()) -> ReportSummary:
    """Write the report of the runs under ``paths`` into ``output``; every input problem is found first."""
    output = Path(output)
    if options.thumbnail_budget_mb < 0:
        raise BenchError(f"--thumbnail-budget-mb must be >= 0 (0 turns thumbnails off), got "
                         f"{options.thumbnail_budget_mb}")
    if options.bootstrap_iters < 1:
        raise BenchError(f"--bootstrap-iters must be at least 1, got {options.bootstrap_iters}")
    check_report_folder(output)
    runs = collect_report_runs(paths)
    pairs = compare_pairs(runs, options.compare)
    samples = [RunSamples.read(run, options.data_root) for run in runs]  # a bad --data-root stops here
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-building-", dir=output.parent))
    try:
        summary = _write(staging, runs, pairs, samples, options)
        _swap(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    summary.output = output
    return summary


def _write(root: Path, runs: Sequence[ReportRun], pairs: Sequence[tuple[ReportRun, ReportRun]],
           samples: Sequence[RunSamples], options: ReportOptions) -> ReportSummary:
    thumbs = Thumbnails(root, int(options.thumbnail_budget_mb * MiB))
    for run_samples in samples:
        thumbs.add(run_samples.image_paths())
    compared = {run.slug for pair in pairs for run in pair}
    tables: dict[str, SampleTable | None] = {}
    (root / "runs").mkdir()
    for run, run_samples in zip(runs, samples, strict=True):
        table = run_samples.table(thumbs.get)
        if table is not None:
            write_chunks(root, run.slug, table.rows, table.facets)
        notes = (table.notes if table is not None else run_samples.notes) + thumbs.notes()
        (root / pages.run_href(run)).write_text(pages.run_page(run, table, notes), encoding="utf-8")
        if run.slug in compared:
            tables[run.slug] = table
    comparisons, skipped = _comparisons(root, pairs, tables, options)
    (root / "index.html").write_text(pages.index_page(runs, _leaderboard(runs), comparisons, skipped,
                                                      thumbs.notes()), encoding="utf-8")
    (root / "assets").mkdir()
    for name in ASSETS:
        (root / "assets" / name).write_bytes(resources.files("bench.report").joinpath("assets", name).read_bytes())
    (root / MARKER).write_text("written by 'python -m bench report'; the next report replaces this folder\n",
                               encoding="utf-8")
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return ReportSummary(root, len(runs), len(comparisons), size, thumbs.notes() + skipped)


def _comparisons(root: Path, pairs: Sequence[tuple[ReportRun, ReportRun]], tables: dict[str, SampleTable | None],
                 options: ReportOptions) -> tuple[list[Comparison], list[str]]:
    comparisons, skipped = [], []
    if pairs:
        (root / "compare").mkdir()
    for a, b in pairs:
        try:
            comparison = compare(a, b, tables.get(a.slug), tables.get(b.slug), options.bootstrap_iters,
                                 options.bootstrap_seed)
        except CompareError as exc:
            if options.compare is not None:
                raise BenchError(f"--compare {a.folder} {b.folder}: {exc}") from None
            skipped.append(f"{a.label} and {b.label} are not compared: {exc}")
            continue
        if comparison.table is not None:
            write_chunks(root, comparison.slug, comparison.table.rows, comparison.table.facets)
        (root / pages.compare_href(comparison)).write_text(pages.compare_page(comparison), encoding="utf-8")
        comparisons.append(comparison)
    return comparisons, skipped


def _leaderboard(runs: Sequence[ReportRun]) -> str:
    """The index's leaderboard tables, from the same frame ``bench leaderboard`` builds (of these runs only)."""
    from bench import toy_references
    from bench.leaderboard import DEFAULT_TOLERANCE, build_leaderboard
    from bench.paper import load_paper_results
    from bench.run_folders import results_frame
    from bench.tolerance import parse_tolerances

    tolerances = parse_tolerances(None, DEFAULT_TOLERANCE)
    frame = build_leaderboard(load_paper_results(), results_frame([r.result for r in runs]), tolerances)
    links = {}
    for run in runs:
        links.setdefault((run.result.run, run.result.task, run.result.split), pages.run_href(run))
    return leaderboard_html(frame, links, toy_references.load())


def _swap(staging: Path, output: Path) -> None:
    """Put the finished report at ``output``, replacing an earlier report there (checked before the build)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(staging, 0o777 & ~mask)  # mkdtemp makes it private; a report is as readable as any other output
    old = None
    if output.exists():
        old = output.with_name(f".{output.name}-old-{os.getpid()}")
        output.rename(old)
    staging.rename(output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
