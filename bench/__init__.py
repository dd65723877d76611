"""Benchmarks of kpledger (``python -m bench.run``); not part of ``make test``."""
