"""Time series with the Kairos API (``rillet.timeseries``) on rillet, SQL and Redis back ends.

The API layer is :class:`Timeseries` (:mod:`rillet.timeseries.api`); where rows are kept is a
:class:`~rillet.timeseries.store.Store` (:mod:`rillet.timeseries.store`), picked from the
first argument of ``Timeseries`` (:mod:`rillet.timeseries.backends`).
"""

from rillet.timeseries.api import Timeseries
from rillet.timeseries.store import TYPES, Store, StoreSpec

__all__ = ["TYPES", "Store", "StoreSpec", "Timeseries"]
