"""blip2-bench command line: ``python -m bench <command>``.

Importing it registers the toy world's models and recipes with `blip2` (`toyworld`), so every command
can name them like any zoo model.
"""

import toyworld  # noqa: F401  (registers the toy models and recipes)
