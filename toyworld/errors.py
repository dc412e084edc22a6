"""The toy world's user errors: a toy build record, data root or analysis input that the user can fix.

Each layer owns its errors; ``bench`` turns this one, like the others, into one line and exit 2.
"""

from __future__ import annotations


class ToyError(ValueError):
    """A problem with a toy-world input that the user can fix; the message says how."""
