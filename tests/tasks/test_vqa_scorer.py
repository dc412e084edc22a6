"""VQA/GQA scorers against values derived by hand from the two original rule sets.

Notation in the derivations: L = the pre-2021 script / LAVIS ("lavis"), O = GT-Vision-Lab HEAD
("official"). P = punctuation step, D = digit/article/contraction step (incl. lower-casing).
L: pred -> clean+P+D always; GT -> P only, and only if the raw GT strings differ.
O: pred and GT -> newline/tab->space + strip; then P+D on both only if the stripped GTs differ.
m of 10 matching annotators -> 10-choose-9 mean of min(1, matches/3): 0/1/2/3/4+ -> 0/30/60/90/100.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest

from tasks.formats.vqa import NO_QUESTION_TYPE
from tasks.scoring.gqa import gqa_accuracy
from tasks.scoring.vqa import lemmatize_answers, vqa_accuracy, vqa_score_one
from tasks.scoring.vqa_normalize import normalize_answer, process_digit_article, process_punctuation


def gt(*groups: tuple[int, str]) -> list[str]:
    out = [a for n, a in groups for _ in range(n)]
    assert len(out) == 10
    return out


# (prediction, ground truths, expected lavis, expected official)
GOLDEN = {
    # ---- the variants differ: unanimous GT, so O compares raw strings ----
    "two-word-vs-2": ("Two", gt((10, "2")), 100.0, 0.0),  # L: D maps two->2, 10 match; O: "Two"!="2"
    "two-lower-vs-2": ("two", gt((10, "2")), 100.0, 0.0),  # L: two->2; O: raw "two"!="2"
    "yes-period": ("yes.", gt((10, "yes")), 100.0, 0.0),  # L: final "." stripped; O: "yes."!="yes"
    "Yes-capital": ("Yes", gt((10, "yes")), 100.0, 0.0),  # L: lower-cased; O: no lower-casing
    "YES-period": ("YES.", gt((10, "yes")), 100.0, 0.0),  # L: "." stripped + lower; O: raw differs
    "the-dog": ("the dog", gt((10, "dog")), 100.0, 0.0),  # L: article dropped; O: raw differs
    "an-apple": ("an apple", gt((10, "apple")), 100.0, 0.0),  # L: "an" dropped; O: raw differs
    "dont-vs-don't": ("dont", gt((10, "don't")), 100.0, 0.0),  # L: dont->don't; O: raw differs
    "1,000": ("1,000", gt((10, "1000")), 100.0, 0.0),  # L: comma between digits deleted; O: raw
    "3.5.": ("3.5.", gt((10, "3.5")), 100.0, 0.0),  # L: "." before 5 kept, last "." stripped; O: raw
    "hot-dog": ("hot-dog", gt((10, "hot dog")), 100.0, 0.0),  # L: "-" (no space beside) -> " "; O: raw
    "U.S.A.": ("U.S.A.", gt((10, "usa")), 100.0, 0.0),  # L: periods stripped -> USA -> usa; O: raw
    "none-is-0": ("none", gt((10, "0")), 100.0, 0.0),  # L: none->0; O: raw differs
    "No!": ("No!", gt((10, "no")), 100.0, 0.0),  # L: "!" -> " ", lower, split -> "no"; O: raw
    "comma-space": ("red, white", gt((10, "red white")), 100.0, 0.0),  # L: ", " -> comma deleted
    "slash": ("black/white", gt((10, "black white")), 100.0, 0.0),  # L: "/" -> " "; O: raw
    "two-dogs": ("two dogs", gt((10, "2 dogs")), 100.0, 0.0),  # L: two->2 per word; O: raw
    "32-periods": ("yes" + "." * 32, gt((10, "yes")), 100.0, 0.0),  # L: re.sub count=32 strips all 32
    "digit-comma-deletes-all-marks": (  # L: "1,0" found -> "," and "-" deleted, not spaced -> 10002000
        "1,000-2,000", gt((10, "10002000")), 100.0, 0.0),
    # L: unanimous raw " red " != "red"; O: GT stripped to "red" first
    "unanimous-gt-with-spaces": ("red", gt((10, " red ")), 0.0, 100.0),
    "unanimous-Yes": ("Yes", gt((10, "Yes")), 0.0, 100.0),  # L: pred -> "yes" != raw "Yes"; O: raw equal
    "unanimous-hot-dog": ("hot-dog", gt((10, "hot-dog")), 0.0, 100.0),  # L: pred "hot dog" != raw; O: equal
    "unanimous-U.S.A.": ("U.S.A.", gt((10, "U.S.A.")), 0.0, 100.0),  # L: "usa" != raw "U.S.A."; O: equal
    "unanimous-the": ("the", gt((10, "the")), 0.0, 100.0),  # L: article dropped -> "" ; O: raw equal
    # ---- the variants differ: annotators disagree, so O fully normalises GT, L only P ----
    "2-vs-mixed-two": ("2", gt((2, "2"), (8, "two")), 60.0, 100.0),  # L: "two" kept -> m=2; O: two->2, m=10
    "Two-vs-mixed-two": ("Two", gt((2, "2"), (8, "two")), 60.0, 100.0),  # L: pred 2, m=2; O: m=10
    "dog-vs-mixed-the-dog": ("dog", gt((8, "the dog"), (2, "dog")), 60.0, 100.0),  # L: GT article kept, m=2
    "yes-vs-mixed-Yes": ("yes", gt((8, "Yes"), (2, "yes")), 60.0, 100.0),  # L: GT not lower-cased, m=2
    # L: pred "don't" (not a table key) != GT "dont" (P only); O: GT dont -> don't, m=5
    "don't-vs-mixed-dont": ("don't", gt((5, "dont"), (5, "no")), 0.0, 100.0),
    "dont-vs-mixed-dont": ("dont", gt((5, "dont"), (5, "no")), 0.0, 100.0),  # L: pred->"don't" != GT "dont"
    # L: GT "hot\ndog" keeps its newline (P only); O: newline -> space, m=5
    "newline-in-mixed-gt": ("hot dog", gt((5, "hot\ndog"), (5, "cat")), 0.0, 100.0),
    # L: raw set differs, P keeps "red " -> m=3; O: stripped GTs are unanimous "red" -> raw, m=10
    "trailing-space-mixed-gt": ("red", gt((3, "red"), (7, "red ")), 90.0, 100.0),
    # ---- the variants agree ----
    "33-periods": ("yes" + "." * 33, gt((10, "yes")), 0.0, 0.0),  # L: only 32 stripped -> "yes."; O: raw
    "eleven-not-mapped": ("eleven", gt((10, "11")), 0.0, 0.0),  # table stops at ten
    "3.5-exact": ("3.5", gt((10, "3.5")), 100.0, 100.0),  # L: "." before digit kept; O: raw equal
    "1000-vs-1,000": ("1000", gt((10, "1,000")), 0.0, 0.0),  # L: unanimous GT raw "1,000"; O: raw
    "don't-vs-dont": ("don't", gt((10, "dont")), 0.0, 0.0),  # L: "don't" not a table key; O: raw
    "2-vs-two": ("2", gt((10, "two")), 0.0, 0.0),  # both: unanimous GT never normalised
    "whitespace": ("  no \n", gt((10, "no")), 100.0, 100.0),  # both clean newline and strip
    "newline-inside": ("hot\ndog", gt((10, "hot dog")), 100.0, 100.0),  # both: "\n" -> " "
    "tab": ("yes\t", gt((10, "yes")), 100.0, 100.0),  # both: "\t" -> " ", strip
    "one-match": ("cat", gt((1, "cat"), (9, "dog")), 30.0, 30.0),  # m=1 -> 9/10 * 1/3
    "hyphen-in-mixed-gt": ("hot dog", gt((3, "hot-dog"), (7, "hotdog")), 90.0, 90.0),  # P: hot-dog -> hot dog
    "comma-in-mixed-gt": ("1000", gt((2, "1,000"), (8, "many")), 60.0, 60.0),  # P: 1,000 -> 1000, m=2
    "Dog-mixed": ("Dog", gt((4, "dog"), (6, "cat")), 100.0, 100.0),  # pred lower-cased in both, m=4
    "mostly-yes": ("yes", gt((9, "yes"), (1, "Yes")), 100.0, 100.0),  # L: m=9; O: m=10
    "article-pred-mixed": ("the dog", gt((8, "dog"), (2, "cat")), 100.0, 100.0),  # both: pred -> "dog", m=8
    "3.5.-in-mixed-gt": ("3.5", gt((4, "3.5."), (6, "4")), 100.0, 100.0),  # P: "3.5." -> "3.5", m=4
}


def test_enough_golden_cases_where_variants_differ():
    differ = [k for k, (_, _, lav, off) in GOLDEN.items() if lav != off]
    assert len(differ) >= 30


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_golden_lavis(case):
    pred, gts, lavis, _ = GOLDEN[case]
    assert vqa_score_one(pred, gts, "lavis") == lavis


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_golden_official(case):
    pred, gts, _, official = GOLDEN[case]
    assert vqa_score_one(pred, gts, "official") == official


def test_default_variant_is_lavis():
    assert vqa_score_one("Two", gt((10, "2"))) == 100.0


@pytest.mark.parametrize(
    "matches, expected",
    [
        (0, 0.0),  # no subset has a match
        (1, 30.0),  # 9 subsets keep it (1/3), 1 loses it (0): 3/10, i.e. 30.0 and not 33.33
        (2, 60.0),  # 8 subsets x 2/3 + 2 x 1/3 = 18/3 / 10
        (3, 90.0),  # 7 x 1 + 3 x 2/3 = 9 / 10
        (4, 100.0),  # every subset keeps >= 3
        (10, 100.0),
    ],
)
def test_ten_choose_nine_averaging(matches, expected):
    gts = ["cat"] * matches + ["dog"] * (10 - matches)
    for variant in ("lavis", "official"):
        assert vqa_score_one("cat", gts, variant) == expected


def test_leave_one_out_with_three_answers_rounds_to_two_decimals():
    # leave out cat: 1/3, leave out cat: 1/3, leave out dog: 2/3 -> 4/9 = 0.4444 -> 44.44
    assert vqa_score_one("cat", ["cat", "cat", "dog"], "lavis") == 44.44


def _ann(qid, answer_type, answers, question_type="what is"):
    return {
        "question_id": qid,
        "answer_type": answer_type,
        "question_type": question_type,
        "answers": [
            {"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)
        ],
    }


def test_accuracy_by_answer_type_and_rounding():
    anns = [
        _ann(1, "yes/no", gt((10, "yes"))),  # "yes" -> 1
        _ann(2, "yes/no", gt((10, "no"))),  # "yes" -> 0
        _ann(3, "yes/no", gt((1, "yes"), (9, "no"))),  # "yes" -> 0.3
        _ann(4, "number", gt((2, "2"), (8, "3"))),  # "two" -> 2 (L), m=2 -> 0.6
        _ann(5, "number", gt((3, "2"), (7, "3"))),  # "2" -> m=3 -> 0.9
        _ann(6, "other", gt((10, "dog"))),  # "the dog" -> 1
        _ann(7, "other", gt((10, "cat"))),  # "dog" -> 0
    ]
    preds = {1: "yes", 2: "yes", 3: "yes", 4: "two", 5: "2", 6: "the dog", 7: "dog"}
    out = vqa_accuracy(preds, anns, "lavis")
    # overall 3.8/7 = 54.2857 -> 54.29; yes/no 1.3/3 = 43.333 -> 43.33; number 1.5/2; other 1/2
    assert out == {
        "accuracy": 54.29,
        "accuracy_by_answer_type": {"yes/no": 43.33, "number": 75.0, "other": 50.0},
        "accuracy_by_question_type": {"what is": 54.29},
    }
    # official: q6 "the dog" vs unanimous "dog" -> 0, q4 "two" stays "two" vs 2/3? GT differ ->
    # D maps nothing in GT ("2","3"), pred two->2 -> m=2 -> 0.6. Overall 2.8/7 = 40.0
    out = vqa_accuracy(preds, anns, "official")
    assert out == {
        "accuracy": 40.0,
        "accuracy_by_answer_type": {"yes/no": 43.33, "number": 75.0, "other": 0.0},
        "accuracy_by_question_type": {"what is": 40.0},
    }


def test_only_present_answer_types_and_two_thirds_rounding():
    anns = [_ann(q, "other", gt((10, a))) for q, a in ((1, "a1"), (2, "b1"), (3, "c1"))]
    out = vqa_accuracy({1: "a1", 2: "b1", 3: "zzz"}, anns)
    assert out == {  # 200/3 = 66.666...
        "accuracy": 66.67,
        "accuracy_by_answer_type": {"other": 66.67},
        "accuracy_by_question_type": {"what is": 66.67},
    }


def test_accuracy_by_question_type_as_the_official_per_question_type():
    """The official evaluation's perQuestionType: the mean of each type's question accuracies, types as
    the annotations give them; one written without a type counts as "none of the above"."""
    anns = [
        _ann(1, "yes/no", gt((10, "yes")), "is there a"),  # "yes" -> 1
        _ann(2, "yes/no", gt((2, "yes"), (8, "no")), "is there a"),  # "yes" -> 0.6
        _ann(3, "number", gt((10, "2")), "how many"),  # "3" -> 0
        _ann(4, "other", gt((10, "red")), "what color is the"),  # "red" -> 1
        _ann(5, "other", gt((10, "blue")), "what color is the"),  # "green" -> 0
        _ann(6, "other", gt((10, "left"))),
    ]
    del anns[5]["question_type"]
    out = vqa_accuracy({1: "yes", 2: "yes", 3: "3", 4: "red", 5: "green", 6: "left"}, anns)
    assert out["accuracy_by_question_type"] == {
        "is there a": 80.0,
        "how many": 0.0,
        "what color is the": 50.0,
        NO_QUESTION_TYPE: 100.0,
    }
    assert NO_QUESTION_TYPE == "none of the above"
    assert out["accuracy"] == 60.0  # 3.6 / 6


def test_accuracy_does_not_mutate_annotations():
    anns = [_ann(1, "other", gt((5, "Hot-Dog"), (5, "cat")))]
    vqa_accuracy({1: "hot dog"}, anns, "official")
    assert anns[0]["answers"][0]["answer"] == "Hot-Dog"


def test_unknown_variant_is_named():
    with pytest.raises(ValueError, match="bogus"):
        vqa_score_one("a", ["a"], "bogus")
    with pytest.raises(ValueError, match="bogus"):
        vqa_accuracy({1: "a"}, [_ann(1, "other", ["a"] * 10)], variant="bogus")


def test_missing_and_unknown_prediction_ids_are_errors():
    anns = [_ann(1, "other", ["a"] * 10), _ann(2, "other", ["b"] * 10)]
    with pytest.raises(ValueError, match=r"without a prediction.*\[2\]"):
        vqa_accuracy({1: "a"}, anns)
    with pytest.raises(ValueError, match=r"not in the annotations.*\[99\]"):
        vqa_accuracy({1: "a", 2: "b", 99: "c"}, anns)


def test_malformed_annotation_is_named():
    with pytest.raises(ValueError, match="answer_type"):
        vqa_accuracy({1: "a"}, [{"question_id": 1, "answers": [{"answer": "a"}]}])


# ---- the normalisation steps on their own ----


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1,000", "1000"),  # comma between digits -> deleted
        ("red,white", "red white"),  # comma without digits or space -> space
        ("a - b", "a  b"),  # mark next to a space -> deleted (spaces stay)
        ("3.5.", "3.5"),  # only periods not followed by a digit
        ("U.S.A.", "USA"),
        ("it's: ok", "it's: ok"),  # apostrophe and colon are not in the list
        ("1,000-2,000", "10002000"),  # the digit-comma rule deletes every mark
        ("(yes)", " yes "),
    ],
)
def test_process_punctuation(text, expected):
    assert process_punctuation(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The Two dogs", "2 dogs"),
        ("a  dont   an", "don't"),
        ("Im", "im"),  # capitalised table keys never match after lower-casing
        ("none of ten", "0 of 10"),
        ("whats up", "what's up"),
    ],
)
def test_process_digit_article(text, expected):
    assert process_digit_article(text) == expected


def test_normalize_answer_runs_all_steps_in_order():
    assert normalize_answer(" The Two\thot-dogs.\n") == "2 hot dogs"


# ---- OK-VQA lemmatiser ----


@pytest.mark.skipif(importlib.util.find_spec("spacy") is not None, reason="spaCy is installed here")
def test_lemmatizer_without_spacy_says_how_to_install():
    with pytest.raises(RuntimeError, match=r"spaCy is not installed.*pip install spacy && python -m spacy"):
        lemmatize_answers({1: "dogs running"})


def test_lemmatizer_reports_missing_spacy_even_if_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)  # makes "import spacy" raise ImportError
    with pytest.raises(RuntimeError, match="en_core_web_sm"):
        lemmatize_answers({1: "dogs"})


def test_lemmatizer_reports_missing_model(monkeypatch):
    def load(name):
        raise OSError(f"[E050] Can't find model '{name}'")

    monkeypatch.setitem(sys.modules, "spacy", types.SimpleNamespace(load=load))
    with pytest.raises(RuntimeError, match=r"model en_core_web_sm.*python -m spacy download en_core_web_sm"):
        lemmatize_answers({1: "dogs"})


def test_lemmatizer_lemmatises_only_nouns_and_verbs(monkeypatch):
    tok = types.SimpleNamespace
    parsed = {
        "two dogs running": [
            tok(text="two", lemma_="two", pos_="NUM"),
            tok(text="dogs", lemma_="dog", pos_="NOUN"),
            tok(text="running", lemma_="run", pos_="VERB"),
        ],
        "is red": [tok(text="is", lemma_="be", pos_="AUX"), tok(text="red", lemma_="red", pos_="ADJ")],
    }
    loaded = []
    fake_spacy = types.SimpleNamespace(load=lambda name: loaded.append(name) or parsed.get)
    monkeypatch.setitem(sys.modules, "spacy", fake_spacy)
    assert lemmatize_answers({1: "two dogs running", 2: "is red"}) == {1: "two dog run", 2: "is red"}
    assert loaded == ["en_core_web_sm"]


# ---- GQA ----


def test_gqa_exact_match_after_normalising_both_sides():
    preds = {"a": "Yes.", "b": "table", "c": "two", "d": "left"}
    answers = {"a": "yes", "b": "The table", "c": "2", "d": "right"}
    assert gqa_accuracy(preds, answers) == {"accuracy": 75.0}  # a, b, c match after normalisation


def test_gqa_rounds_to_two_decimals():
    assert gqa_accuracy({"1": "x", "2": "y", "3": "z"}, {"1": "x", "2": "n", "3": "n"}) == {"accuracy": 33.33}


def test_gqa_id_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"without a prediction.*'2'"):
        gqa_accuracy({"1": "x"}, {"1": "x", "2": "y"})
    with pytest.raises(ValueError, match=r"unknown question ids.*'3'"):
        gqa_accuracy({"1": "x", "3": "y"}, {"1": "x"})
