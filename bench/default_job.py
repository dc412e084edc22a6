"""The default main job: `python -m bench run` with no arguments.

On a fresh clone it makes the toy data root if it is missing, evaluates the committed toy models on
every task (the generative ones on the 5 generation tasks, the retrieval one on the 2 retrieval tasks),
writes their run folders, refreshes the leaderboard, whose "Toy world" section lists them, and writes the
HTML report of the toy runs (`bench report`) beside the run folders. It needs no download, so a new user sees
the whole harness work, with meaningful numbers and samples to browse, in a few minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tasks
from toyworld.data import DEFAULT_ROOT, ensure_root

GENERATION_MODELS: tuple[str, ...] = ("toy-opt", "toy-t5", "toy-opt-coco")
RETRIEVAL_MODELS: tuple[str, ...] = ("toy-qformer-coco",)
BATCH_SIZE = 50  # CPU: tiny models, so large batches amortise the per-call overhead of generate()


@dataclass(frozen=True)
class DefaultJob:
    """Where the default job reads and writes, and how it runs: the `bench run` flags it honours.

    `results_dir` holds the committed leaderboard files; they are refreshed only from a full run written
    to `results_dir/runs`, so a `--limit` or elsewhere-written run never replaces them.
    """

    data_root: Path = DEFAULT_ROOT
    output_dir: Path = Path("results/runs")
    results_dir: Path = Path("results")
    limit: int | None = None
    quiet: bool = False
    device: str = "cpu"
    batch_size: int = BATCH_SIZE
    precision: str = "auto"
    num_workers: int = 0

    @property
    def report_dir(self) -> Path:
        """The HTML report of the toy runs: `report/` beside the runs folder (results/report by default)."""
        return Path(self.output_dir).parent / "report"

    @property
    def refreshes_leaderboard(self) -> bool:
        """Only a full run into the runs folder beside the leaderboard files may rewrite them."""
        return self.limit is None and Path(self.output_dir).resolve() == (Path(self.results_dir) / "runs").resolve()


def task_names(kind: str) -> list[str]:
    """Registry task names of one kind family: "retrieval" or "generation" (VQA and captioning)."""
    return [n for n in tasks.names() if (tasks.get(n).kind == "retrieval") == (kind == "retrieval")]


def run_default_job(job: DefaultJob = DefaultJob()) -> tuple[list[Path], list[str]]:
    """Evaluate every toy model on its tasks (and refresh the leaderboard, see `DefaultJob`); returns the
    run folders and the lines that say where everything went (the caller prints them last, where they
    are seen)."""
    from bench.report import ReportOptions, build_report, check_report_folder
    from bench.runner.checks import check_request
    from bench.runner.run import RunRequest, run_all

    plan = [(m, task_names("generation")) for m in GENERATION_MODELS]
    plan += [(m, task_names("retrieval")) for m in RETRIEVAL_MODELS]
    requests = [RunRequest(tasks=names, model=model, data_root=str(job.data_root), output_dir=str(job.output_dir),
                           batch_size=job.batch_size, limit=job.limit, quiet=job.quiet, device=job.device,
                           precision=job.precision, num_workers=job.num_workers,
                           overwrite=True)  # the default job owns the toy runs: it refreshes them
                for model, names in plan]
    for request in requests:  # bad flags stop the job before the toy root is built
        check_request(request)
    check_report_folder(job.report_dir, "the report folder (report/ beside --output-dir)")
    ensure_root(job.data_root)
    folders: list[Path] = []
    for request in requests:
        folders += run_all(request)
    if job.refreshes_leaderboard:
        write_leaderboard(job.output_dir, job.results_dir)
    report = build_report(folders, job.report_dir, ReportOptions(data_root=Path(job.data_root)))
    return folders, [where_it_wrote(job),
                     f"report of the toy runs ({report.bytes / 2**20:.1f} MiB): open {report.index.resolve().as_uri()}"]


def where_it_wrote(job: DefaultJob) -> str:
    """The folders the job read and wrote, as absolute paths: installed, it runs from any folder, and its
    relative defaults land under the current one."""
    board = (f"leaderboard {Path(job.results_dir).resolve()}/leaderboard.{{csv,md,png}}" if job.refreshes_leaderboard
             else "leaderboard not rewritten (only a full run into <results>/runs refreshes it)")
    return (f"default job: toy data root {Path(job.data_root).resolve()}; run folders in "
            f"{Path(job.output_dir).resolve()}; {board}")


def write_leaderboard(runs: Path, out: Path) -> list[Path]:
    """`bench leaderboard` over every run folder (the toy runs land in its "Toy world" section)."""
    from bench import toy_references
    from bench.leaderboard import DEFAULT_TOLERANCE, build_leaderboard
    from bench.leaderboard import write_leaderboard as write
    from bench.paper import load_paper_results
    from bench.run_folders import collect_runs, results_frame
    from bench.tolerance import parse_tolerances

    tolerances = parse_tolerances(None, DEFAULT_TOLERANCE)
    frame = build_leaderboard(load_paper_results(), results_frame(collect_runs(runs)), tolerances)
    return write(frame, out, tolerances, toy_references.load())
