"""Parameter counts of the full-size zoo models, built on the meta device (no weights, no download)."""

from __future__ import annotations

import torch

from . import zoo
from .api import count_parameters, freeze_frozen_parts
from .models.build import build_model

# The paper's Table 2 (trainable, total) and Sec. 3.1's 188M stage-1 Q-Former.
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
    """One row per model: trainable and total counts, with the paper's beside them."""
    rows = []
    for name in names or list(PAPER):
        with torch.device("meta"):
            model = build_model(zoo.get(name).config())
        freeze_frozen_parts(model)
        counts = count_parameters(model)
        non_vit = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("vision."))
        trainable = non_vit if model.cfg.is_stage1 else counts.trainable
        paper_trainable, paper_total = PAPER.get(name, ("-", "-"))
        rows.append({"model": name, "trainable": trainable, "total": counts.total,
                     "paper_trainable": paper_trainable, "paper_total": paper_total})
    return rows


def main() -> None:
    print("| model | trainable (ours) | paper | total (ours) | paper |")
    print("|---|---|---|---|---|")
    for r in parameter_rows():
        print(f"| {r['model']} | {r['trainable'] / 1e6:.2f}M | {r['paper_trainable']} | "
              f"{r['total'] / 1e9:.3f}B | {r['paper_total']} |")


if __name__ == "__main__":
    main()
