"""The BLIP-2 paper's reported numbers (Tables 2-6), read from the packaged ``bench/data/paper_results.csv``.

The numbers are transcribed once into a data file, not code, so a correction is a one-line diff that the
paper test (tests/bench/test_paper.py) re-checks against the paper's text.
"""

from __future__ import annotations

import io
from importlib import resources

import pandas as pd

from bench import markdown

PAPER_COLUMNS = ("table", "model", "task", "split", "subset", "metric", "value")
DATA_FILE = "data/paper_results.csv"
TABLE_TITLES = {
    2: "Table 2: zero-shot VQA",
    3: "Table 3: captioning (NoCaps zero-shot, COCO fine-tuned)",
    4: "Table 4: fine-tuned VQAv2",
    5: "Table 5: image-text retrieval (Flickr30K zero-shot 1K test, COCO fine-tuned 5K test)",
    6: "Table 6: retrieval ablation of the ITG loss (COCO fine-tuned 5K test)",
}


def paper_csv_text() -> str:
    """The packaged data file, verbatim (keeps the paper's formatting, e.g. ``82.00``)."""
    return resources.files("bench").joinpath(DATA_FILE).read_text(encoding="utf-8")


def load_paper_results() -> pd.DataFrame:
    """All paper rows; ``value`` is a float and ``value_text`` keeps the printed digits."""
    frame = pd.read_csv(io.StringIO(paper_csv_text()), dtype=str, keep_default_na=False)
    if tuple(frame.columns) != PAPER_COLUMNS:
        raise RuntimeError(f"{DATA_FILE} has columns {list(frame.columns)}, expected {list(PAPER_COLUMNS)}")
    frame["value_text"] = frame["value"]
    frame["value"] = frame["value"].astype(float)
    frame["table"] = frame["table"].astype(int)
    return frame


def is_blip2_row(model: str) -> bool:
    """BLIP-2 rows carry zoo-style names (``vitg-...``/``vitl-...``); compared systems keep the paper's names."""
    return model.startswith(("vitg-", "vitl-"))


def to_markdown(frame: pd.DataFrame) -> str:
    """One Markdown section per paper table, BLIP-2 rows marked in bold."""
    parts: list[str] = []
    for table_no, rows in frame.groupby("table", sort=True):
        parts.append(f"## {TABLE_TITLES.get(int(table_no), f'Table {table_no}')}\n")
        body = [
            (f"**{r.model}**" if is_blip2_row(r.model) else r.model, r.task, r.split, r.subset, r.metric, r.value_text)
            for r in rows.itertuples()
        ]
        parts.append(markdown.table(["model", "task", "split", "subset", "metric", "value"], body, "lllllr") + "\n")
    parts.append("BLIP-2 rows are in bold; the other rows are the systems the paper compares against.\n")
    return "\n".join(parts)
