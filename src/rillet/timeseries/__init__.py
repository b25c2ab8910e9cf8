"""Time series with the Kairos API (``rillet.timeseries``) on rillet, SQL and Redis back ends.

The API layer lives in :mod:`rillet.timeseries.api`; where rows are kept is a
:class:`~rillet.timeseries.store.Store` (:mod:`rillet.timeseries.store`).
"""

from rillet.timeseries.store import TYPES, Store, StoreSpec

__all__ = ["TYPES", "Store", "StoreSpec"]
