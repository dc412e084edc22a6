"""``python -m bench report``: a static HTML report of run folders, opened from ``file://`` with no server.

An index (the leaderboard tables and one card per run), one page per run (metrics with their 95% intervals,
per-subset breakdowns, and a sample browser with thumbnails, filters and paging) and one page per compared pair
of runs (the samples whose score changed, side by side). See docs/report.md.
"""

from bench.report.build import ReportOptions, ReportSummary, build_report, check_report_folder

__all__ = ["ReportOptions", "ReportSummary", "build_report", "check_report_folder"]
