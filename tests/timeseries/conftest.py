"""Fixtures of the time-series tests: every back end in turn (see conformance.py)."""

from tests.timeseries.conformance import make_store, make_timeseries, rillet_server, store_url

__all__ = ["make_store", "make_timeseries", "rillet_server", "store_url"]
