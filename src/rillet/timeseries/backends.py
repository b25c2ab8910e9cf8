"""Which back end keeps a time series: picked from the first argument of ``Timeseries``.

A back end is a module with ``open_store(target, spec) -> Store`` (:mod:`.store`); this
module only decides which, from a URL's scheme or a client object's class, and imports it
when first used (so SQLAlchemy and redis-py are needed only by who uses them).
"""

from __future__ import annotations

import importlib
from typing import Any

from rillet.errors import ConfigError
from rillet.timeseries.store import Store, StoreSpec

#: URL scheme (before any ``+driver``) -> back-end module
SCHEMES = {
    "rillet": "rillet.timeseries.embedded",
    "sqlite": "rillet.timeseries.sql",
    "postgresql": "rillet.timeseries.sql",
    "postgres": "rillet.timeseries.sql",
    "redis": "rillet.timeseries.redis",
    "rediss": "rillet.timeseries.redis",
    "unix": "rillet.timeseries.redis",
}
#: top-level package of a client object's class -> back-end module
CLIENTS = {
    "rillet": "rillet.timeseries.embedded",
    "sqlalchemy": "rillet.timeseries.sql",
    "redis": "rillet.timeseries.redis",
}


def module_for(target: Any) -> str:
    """The back-end module for a URL or client object.

    Examples:
        >>> module_for("postgresql+psycopg://u@h/db"), module_for("rillet://")
        ('rillet.timeseries.sql', 'rillet.timeseries.embedded')
    """
    if isinstance(target, str):
        scheme = target.split("://", 1)[0].split("+", 1)[0].lower() if "://" in target else ""
        if scheme in SCHEMES:
            return SCHEMES[scheme]
        raise ConfigError(
            f"time-series back end {target!r}: expected a URL starting with "
            + ", ".join(f"{s}://" for s in SCHEMES)
            + ", a rillet Database, a SQLAlchemy engine or a redis.Redis client",
            option="client",
            value=target,
        )
    package = type(target).__module__.split(".", 1)[0]
    if package in CLIENTS:
        return CLIENTS[package]
    raise ConfigError(
        f"time-series back end: cannot keep a time series in a {type(target).__name__}; "
        "pass a URL, a rillet Database, a SQLAlchemy engine or a redis.Redis client",
        option="client",
        value=type(target).__name__,
    )


def open_store(target: Any, spec: StoreSpec) -> Store:
    """Open the store for ``spec`` on ``target`` (a URL or a client object)."""
    module = importlib.import_module(module_for(target))
    store: Store = module.open_store(target, spec)
    return store
