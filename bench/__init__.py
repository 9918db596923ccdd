"""Benchmarks of stackctl against the reference (`docker stack config|deploy`), run with `python -m bench`."""
