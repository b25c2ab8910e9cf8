"""Subscribers: each ingested batch handed on in offset order, after a catch-up from stored
history (see :mod:`rillet.subscription`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa

from rillet.arguments import FLAG, INT, SUBSCRIBER, TEXT_OPTION, Kind, check
from rillet.errors import ConfigError
from rillet.storage.partitions import between_offsets
from rillet.streaming.ingest import Ingest
from rillet.subscription import Subscriber, Subscription

SUBSCRIPTION = Kind(
    "a Subscription from subscribe()", lambda v: isinstance(v, Subscription), ConfigError
)


class Subscribers(Ingest):
    """Subscribing, stored history by offset, and pausing ingest for a subscriber."""

    def subscribe(
        self,
        subscriber: Subscriber,
        name: str | None = None,
        from_offset: int | None = None,
        dictionaries: bool = False,
    ) -> Subscription:
        """Hand ``subscriber`` every batch ingested from now on, on a thread of its own
        (``rillet-<name>-<stream>``; the name is the subscriber's class name in lower case
        without one); with ``from_offset``, first the stored records from that offset (see
        :mod:`rillet.subscription`): ``subscribe(subscriber, from_offset=0)``.  With
        ``dictionaries``, text columns of those stored records may come dictionary-encoded
        (see :meth:`stored`)."""
        check(
            "subscribe",
            subscriber=(subscriber, SUBSCRIBER),
            name=(type(subscriber).__name__.lower() if name is None else name, TEXT_OPTION),
            from_offset=(from_offset, INT | None),
            dictionaries=(dictionaries, FLAG),
        )
        if name is None:
            name = type(subscriber).__name__.lower()
        with self._ingest_lock:
            with self._lock:
                buffer = self._take_buffer()
            if buffer is not None:
                self._ingest(buffer.batch())
            with self._lock:
                joined = self._buffer.first  # every offset before it is stored
            history = None
            if from_offset is not None and from_offset < joined:
                history = self.stored(from_offset, joined, dictionaries)
            subscription = Subscription(subscriber, name, self.name, history)
            self._subscriptions = [*self._subscriptions, subscription]
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop handing batches to a subscription, once it has seen those handed over."""
        check("unsubscribe", subscription=(subscription, SUBSCRIPTION))
        with self._ingest_lock:
            self._subscriptions = [s for s in self._subscriptions if s is not subscription]
        subscription.close()

    def stored(
        self, low: int = 0, high: int | None = None, dictionaries: bool = False
    ) -> Iterator[pa.RecordBatch]:
        """The stored records with offsets in ``[low, high)`` (to the last stored without
        ``high``), as batches in offset order (records out of time order, in partitions
        whose offsets overlap, wait until the records before them are read: see
        :func:`~rillet.storage.partitions.between_offsets`).  Which partitions is settled
        when called; they are read as iterated, under no lock of the stream.  With
        ``dictionaries``, the text columns of sealed files come dictionary-encoded, as the
        files hold them: read at a third of the cost, for a reader that takes them (a
        window numbering its group keys)."""
        check("stored", low=(low, INT), high=(high, INT | None), dictionaries=(dictionaries, FLAG))
        high = 2**63 - 1 if high is None else high
        return between_offsets(self.partitions(), low, high, dictionaries)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """A span in which no batch is ingested and every subscriber has observed every batch
        ingested before it: a subscriber changing what it keeps (a monitor replaying stored
        records for ``backfill``) does it here, so no batch falls between replay and live."""
        with self._ingest_lock:
            self.wait_subscribers()
            yield

    def _close_subscribers(self) -> None:
        """Let the subscribers see what was handed over, and stop their threads."""
        for subscription in self._subscriptions:
            subscription.close()
