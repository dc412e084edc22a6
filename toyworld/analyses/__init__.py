"""Measurements that every toy number needs beside it: chance levels, text references, ITM label noise,
and the paper's ablations in miniature."""
