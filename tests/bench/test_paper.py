"""The paper data file: complete (every BLIP-2 row of Tables 2-6) and equal to the paper's text."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

from bench.paper import PAPER_COLUMNS, is_blip2_row, load_paper_results
from blip2 import zoo
from tests.bench.helpers import REPO_ROOT, bench, bench_here

PAPER_TEXT = Path(os.environ.get("BLIP2_PAPER_TEXT", REPO_ROOT.parent / "shared" / "paper" / "blip2-paper.txt"))

# Counted from the paper: T2 6 models x 4 columns; T3 3 x (4 NoCaps subsets x C,S + COCO B@4,C);
# T4 3 x (test-dev, test-std); T5 2 x 12 recalls; T6 2 x 4 recalls.
EXPECTED_BLIP2_ROWS = {2: 24, 3: 30, 4: 6, 5: 24, 6: 8}
# Compared systems, counting only the cells the paper fills (a "-" cell has no row).
EXPECTED_OTHER_ROWS = {2: 17, 3: 33, 4: 16, 5: 98}

# The paper's column order per table, to read a row's numbers off the flattened text.
R6 = ["TR@1", "TR@5", "TR@10", "IR@1", "IR@5", "IR@10"]
COLUMNS = {
    2: [
        ("vqav2", "val", "all", "accuracy"),
        ("vqav2", "test-dev", "all", "accuracy"),
        ("okvqa", "test", "all", "accuracy"),
        ("gqa", "test-dev", "all", "accuracy"),
    ],
    3: [("nocaps", "val", d, m) for d in ("in-domain", "near-domain", "out-domain", "all") for m in ("CIDEr", "SPICE")]
    + [("coco_caption", "karpathy-test", "all", "BLEU-4"), ("coco_caption", "karpathy-test", "all", "CIDEr")],
    4: [("vqav2", "test-dev", "all", "accuracy"), ("vqav2", "test-std", "all", "accuracy")],
    5: [("flickr30k", "test", "all", m) for m in R6] + [("coco_retrieval", "test", "all", m) for m in R6],
    6: [("coco_retrieval", "test", "all", m) for m in ("TR@1", "TR@5", "IR@1", "IR@5")],
}
# Each data-file model -> the label that starts its row in the paper's text, per table.
LABELS = {
    2: {
        "VL-T5-no-vqa": "VL-T5 no-vqa",
        "FewVLM": "FewVLM",
        "Frozen": "Frozen",
        "VLKD": "VLKD",
        "Flamingo3B": "Flamingo3B",
        "Flamingo9B": "Flamingo9B",
        "Flamingo80B": "Flamingo80B",
        "vitl-opt2.7b": "BLIP-2 ViT-L OPT 2.7B",
        "vitg-opt2.7b": "BLIP-2 ViT-g OPT 2.7B",
        "vitg-opt6.7b": "BLIP-2 ViT-g OPT 6.7B",
        "vitl-flant5xl": "BLIP-2 ViT-L FlanT5 XL",
        "vitg-flant5xl": "BLIP-2 ViT-g FlanT5 XL",
        "vitg-flant5xxl": "BLIP-2 ViT-g FlanT5 XXL",
    },
    3: {
        "OSCAR": "OSCAR",
        "VinVL": "VinVL",
        "BLIP": "BLIP",
        "OFA": "OFA",
        "Flamingo": "Flamingo",
        "SimVLM": "SimVLM",
        "vitg-opt2.7b-coco": "BLIP-2 ViT-g OPT 2.7B",
        "vitg-opt6.7b-coco": "BLIP-2 ViT-g OPT 6.7B",
        "vitg-flant5xl-coco": "BLIP-2 ViT-g FlanT5 XL",
    },
    4: {
        "ALBEF": "ALBEF",
        "BLIP": "BLIP",
        "OFA": "OFA",
        "Flamingo80B": "Flamingo80B",
        "VinVL": "VinVL",
        "SimVLM": "SimVLM",
        "CoCa": "CoCa",
        "BEIT-3": "BEIT-3",
        "vitg-flant5xl-vqa": "BLIP-2 ViT-g FlanT5 XL",
        "vitg-opt2.7b-vqa": "BLIP-2 ViT-g OPT 2.7B",
        "vitg-opt6.7b-vqa": "BLIP-2 ViT-g OPT 6.7B",
    },
    5: {
        "CLIP": "CLIP",
        "ALIGN": "ALIGN",
        "FILIP": "FILIP",
        "Florence": "Florence",
        "BEIT-3": "BEIT-3",
        "UNITER": "UNITER",
        "OSCAR": "OSCAR",
        "VinVL": "VinVL",
        "ALBEF": "ALBEF",
        "BLIP": "BLIP",
        "vitl-qformer-coco": "BLIP-2 ViT-L",
        "vitg-qformer-coco": "BLIP-2 ViT-g",
    },
    6: {"vitg-qformer-coco-no-itg": "ITC + ITM", "vitg-qformer-coco": "ITC + ITM + ITG"},
}
# The caption that ends each table; a table's text runs from the previous caption to its own.
CAPTIONS = {1: r"Table 1 :", 2: r"Table 2 :", 3: r"Table 3 :", 4: r"Table 4 :", 5: r"Table 5:", 6: r"Table 6 :"}
SKIP_TOKENS = {'"', "-", "~", "\\sim"}


@pytest.fixture(scope="module")
def paper() -> pd.DataFrame:
    return load_paper_results()


def test_columns_and_values_are_well_formed(paper):
    assert tuple(paper.columns[:7]) == PAPER_COLUMNS
    assert set(paper["subset"]) == {"all", "in-domain", "near-domain", "out-domain"}
    assert paper["value"].between(0, 200).all()
    assert not paper.duplicated(["table", "model", "task", "split", "subset", "metric"]).any()
    blip2 = paper[paper["model"].map(is_blip2_row)]
    # Every BLIP-2 model is a zoo name, except the ITC+ITM ablation, which has no checkpoint.
    assert set(blip2["model"]) - set(zoo.names()) == {"vitg-qformer-coco-no-itg"}


def test_every_blip2_row_of_tables_2_to_6_is_present(paper):
    blip2 = paper[paper["model"].map(is_blip2_row)]
    assert blip2.groupby("table").size().to_dict() == EXPECTED_BLIP2_ROWS
    others = paper[~paper["model"].map(is_blip2_row)]
    assert others.groupby("table").size().to_dict() == EXPECTED_OTHER_ROWS
    # Each BLIP-2 model has a number in every column of its table.
    for table, rows in blip2.groupby("table"):
        for model, cells in rows.groupby("model"):
            got = set(cells[["task", "split", "subset", "metric"]].itertuples(index=False, name=None))
            assert got == set(COLUMNS[table]), (table, model)


@pytest.mark.parametrize(
    ("table", "model", "task", "split", "subset", "metric", "value"),
    [
        (2, "vitg-flant5xxl", "vqav2", "test-dev", "all", "accuracy", 65.0),
        (2, "vitl-opt2.7b", "gqa", "test-dev", "all", "accuracy", 33.9),
        (2, "vitg-opt6.7b", "okvqa", "test", "all", "accuracy", 36.4),
        (3, "vitg-flant5xl-coco", "nocaps", "val", "out-domain", "SPICE", 15.1),
        (3, "vitg-opt2.7b-coco", "coco_caption", "karpathy-test", "all", "CIDEr", 145.8),
        (4, "vitg-opt6.7b-vqa", "vqav2", "test-std", "all", "accuracy", 82.30),
        (5, "vitg-qformer-coco", "flickr30k", "test", "all", "IR@1", 89.7),
        (5, "vitl-qformer-coco", "coco_retrieval", "test", "all", "IR@10", 91.8),
        (6, "vitg-qformer-coco-no-itg", "coco_retrieval", "test", "all", "TR@1", 84.5),
        (2, "Flamingo80B", "vqav2", "test-dev", "all", "accuracy", 56.3),
        (4, "Flamingo80B", "vqav2", "test-dev", "all", "accuracy", 82.00),
    ],
)
def test_sample_of_numbers(paper, table, model, task, split, subset, metric, value):
    """Numbers read by eye from the paper; also runs where the paper's text is not available."""
    key = (table, model, task, split, subset, metric)
    hit = paper[paper[["table", "model", "task", "split", "subset", "metric"]].apply(tuple, axis=1) == key]
    assert hit["value"].tolist() == [value]


def _clean_lines(text: str) -> list[str]:
    text = re.sub(r"\{\}_\{\\text\{[^}]*\}\}", " ", text)  # OPT 2.7B {}_{\text{2.7B}} -> OPT 2.7B
    text = re.sub(r"\(\s*[A-Z][^()]*?\d{4}[ab]?\s*\)", " ", text)  # citations: (Alayrac et al., 2022 )
    return [" ".join(line.split()) for line in text.splitlines()]


def _row_numbers(lines: list[str], label: str) -> list[str]:
    """The numbers of the row starting with ``label``: skip param counts and '-' cells, stop at the next label."""
    pattern = re.compile(re.escape(label) + r"(?=\s|$)")
    start = next(i for i, line in enumerate(lines) if pattern.match(line))
    tokens = lines[start][len(label) :].split() + [t for line in lines[start + 1 :] for t in line.split()]
    numbers = []
    for token in tokens:
        if re.fullmatch(r"\d+\.\d+", token):
            numbers.append(token)
        elif not (token in SKIP_TOKENS or re.fullmatch(r"\d+(\.\d+)?[MB]", token)):
            break
    return numbers


def _table_lines(text: str, table: int) -> list[str]:
    begin = text.index(CAPTIONS[table - 1])
    return _clean_lines(text[begin : text.index(CAPTIONS[table], begin)])


@pytest.mark.skipif(not PAPER_TEXT.is_file(), reason=f"paper text not found at {PAPER_TEXT} (set BLIP2_PAPER_TEXT)")
@pytest.mark.parametrize("table", sorted(LABELS))
def test_every_row_equals_the_paper_text(paper, table):
    """Read each row's numbers off the paper's flattened table, in column order, and compare digit for digit."""
    text = PAPER_TEXT.read_text(encoding="utf-8")
    lines = _table_lines(text, table)
    rows = paper[paper["table"] == table]
    assert set(rows["model"]) == set(LABELS[table])
    order = {column: i for i, column in enumerate(COLUMNS[table])}
    for model, label in LABELS[table].items():
        cells = rows[rows["model"] == model]
        ranked = sorted(cells.itertuples(), key=lambda r: order[(r.task, r.split, r.subset, r.metric)])
        assert [r.value_text for r in ranked] == _row_numbers(lines, label), (table, model)


def test_paper_command_prints_the_data_file(paper):
    result = bench("paper", "--format", "csv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(PAPER_COLUMNS)
    assert len(lines) == len(paper) + 1
    assert "4,vitg-opt6.7b-vqa,vqav2,test-std,all,accuracy,82.30" in lines


def test_paper_command_markdown_and_filters():
    result = bench_here("paper", "--table", "6", "--blip2-only")
    assert result.returncode == 0, result.stderr
    assert "| **vitg-qformer-coco-no-itg** | coco_retrieval | test | all | TR@1 | 84.5 |" in result.stdout
    assert "Table 2" not in result.stdout
    bad = bench_here("paper", "--table", "9")
    assert bad.returncode == 2 and bad.stderr.startswith("error: the paper data has no table 9")
