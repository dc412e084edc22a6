"""blip2-bench command line: ``python -m bench <command>``."""
