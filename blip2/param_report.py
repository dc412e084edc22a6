"""Parameter counts of the zoo models (trainable and total), with the paper's Table 2 beside them.

The counts come from each model's config by arithmetic (`blip2.param_count`), so `bench list models`
answers at once, on a fresh machine too, without importing torch; a test holds every one of them equal
to the model built on the meta device.
"""

from __future__ import annotations

from . import param_count, zoo

# The paper's Table 2 (trainable, total) and Sec. 3.1's 188M stage-1 Q-Former: the one place they live.
PAPER = {
    "vitl-opt2.7b": ("104M", "3.1B"),
    "vitg-opt2.7b": ("107M", "3.8B"),
    "vitg-opt6.7b": ("108M", "7.8B"),
    "vitl-flant5xl": ("103M", "3.4B"),
    "vitg-flant5xl": ("107M", "4.1B"),
    "vitg-flant5xxl": ("108M", "12.1B"),
    "vitg-qformer": ("188M", "-"),
}


def parameter_rows(names: list[str] | None = None) -> list[dict]:
    """One row per model: our trainable and total counts, and the paper's beside them ("-" where it has none)."""
    rows = []
    for name in names or list(PAPER):
        counts = param_count.count(zoo.get(name).config())
        paper_trainable, paper_total = PAPER.get(name, ("-", "-"))
        rows.append({"model": name, "trainable": counts.trainable, "total": counts.total,
                     "paper_trainable": paper_trainable, "paper_total": paper_total})
    return rows
