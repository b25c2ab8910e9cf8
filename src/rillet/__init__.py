"""rillet: real-time monitoring and analysis of data streams.

Examples:
    >>> import rillet
    >>> db = rillet.connect()
    >>> s = db.create_stream("perf", "ts TIMESTAMP, ms DOUBLE", time_column="ts")
    >>> s.append(("2024-01-01T00:00:00Z", 12.5))
    0
    >>> db.sql("SELECT max(ms) FROM perf").fetchall()
    [(12.5,)]
    >>> db.close()
"""

from rillet import errors
from rillet.database import Database, connect
from rillet.datatypes import DataType
from rillet.errors import RilletError
from rillet.expressions.functions import functions
from rillet.flows import Flow
from rillet.monitors import Alert, Matches
from rillet.monitors.stream import MonitoredStream as Stream
from rillet.query import Result
from rillet.record import Record
from rillet.rtsql.results import StatementResult
from rillet.schema import Column, Schema
from rillet.settings import Settings

__all__ = [
    "Alert",
    "Column",
    "DataType",
    "Database",
    "Flow",
    "Matches",
    "Record",
    "Result",
    "RilletError",
    "Schema",
    "Settings",
    "StatementResult",
    "Stream",
    "connect",
    "errors",
    "functions",
]
__version__ = "0.1.0"
