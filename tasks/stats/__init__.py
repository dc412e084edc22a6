"""Uncertainty for every metric: per-sample records, unit-clustered bootstrap intervals, paired comparisons.

* :mod:`tasks.stats.resample`: the bootstrap itself (weights per unit, percentile intervals, paired deltas);
* one :class:`~tasks.stats.resample.Statistic` per kind of metric, each rebuilt from the per-sample records a
  run folder keeps (``samples.jsonl``): means of per-question scores (VQA, GQA), corpus caption metrics
  (BLEU, CIDEr-D with its document frequencies recomputed per resample), and retrieval ranks.
"""
