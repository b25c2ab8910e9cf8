"""The remote client: ``rillet.connect("http://host:port", token=...)`` returns a
:class:`RemoteDatabase`, with the embedded database's methods (:mod:`rillet.api`), results,
records, flows and exceptions, over the server's HTTP API."""

from rillet.client.database import RemoteDatabase, RemoteStream
from rillet.client.flow import RemoteFlow

__all__ = ["RemoteDatabase", "RemoteFlow", "RemoteStream"]
