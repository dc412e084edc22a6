"""The statuses of a leaderboard row (ours beside the paper's number), and what each one means.

Kept apart from :mod:`bench.leaderboard` so the plot (:mod:`bench.leaderboard_plot`) can colour by them
without importing the module that writes it.
"""

from __future__ import annotations

REPRODUCED = "reproduced"
DIFFERS = "differs"
NOT_RUN = "not run"
NO_CHECKPOINT = "no released checkpoint"
NOT_SCORED = "not scored"
PARTIAL = "partial run"
NOT_IN_PAPER = "not in paper"
TOO_FEW = "too few samples to judge"
STATUS_NOTES = {
    REPRODUCED: "|ours - paper| is within the tolerance",
    DIFFERS: "|ours - paper| is larger than the tolerance",
    TOO_FEW: "our 95% interval is wider than the tolerance band (half-width > tolerance), so the run cannot tell "
    "whether it reproduces the paper",
    NOT_RUN: "a released checkpoint exists but no run folder has this number",
    NO_CHECKPOINT: "the paper's weights were never published and no run folder has this number",
    NOT_SCORED: "the run exists but this metric is null (e.g. SPICE without its Java models)",
    PARTIAL: "the run did not cover the paper's whole split (--limit, skipped images, trimmed or other annotation "
    "files, the toy data root), so it is not compared",
    NOT_IN_PAPER: "a number we measured that the paper does not report",
}
