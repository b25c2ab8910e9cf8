"""Server-sent events, written directly: ``id:``/``event:``/``data:`` frames, a ``retry:``
hint, heartbeat comments, and ``Last-Event-ID`` to resume.

Engine threads (a flow's output, a stream's batches, alerts) hand events to :class:`Client`
queues on the event loop with ``call_soon_threadsafe``; a client whose queue is full is
dropped (its stream ends, the browser reconnects), so a slow reader never slows ingestion.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from starlette.responses import StreamingResponse


@dataclass(frozen=True, slots=True)
class Event:
    event: str
    data: bytes
    id: int | None = None

    def frame(self) -> bytes:
        head = f"id: {self.id}\n" if self.id is not None else ""
        return f"{head}event: {self.event}\n".encode() + b"data: " + self.data + b"\n\n"


class Client:
    """One reader's queue on the event loop; ``offer`` may be called from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(size)
        self.dropped = False

    def offer(self, event: Event | None) -> None:
        self.loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: Event | None) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = True  # too slow: end its stream rather than wait for it
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)


class Feed:
    """Events of one source, numbered from 1, the last ``keep`` kept for ``Last-Event-ID``;
    every client joined gets each new event."""

    def __init__(self, keep: int = 1000) -> None:
        self._lock = threading.Lock()
        self._recent: deque[Event] = deque(maxlen=keep)
        self._clients: set[Client] = set()
        self._next = 1
        self.ended = False
        self.dropped = 0

    def publish(self, event: str, data: bytes) -> None:
        with self._lock:
            item = Event(event, data, self._next)
            self._next += 1
            self._recent.append(item)
            clients = list(self._clients)
        for client in clients:
            client.offer(item)

    def end(self, data: bytes = b"{}") -> None:
        """The source ended: clients get an ``end`` event and their streams close."""
        self.publish("end", data)
        with self._lock:
            self.ended = True
            clients = list(self._clients)
        for client in clients:
            client.offer(None)

    def join(self, client: Client, after: int | None) -> list[Event]:
        """Add ``client``; the kept events after id ``after`` (none when ``after`` is None)."""
        with self._lock:
            self._clients.add(client)
            if after is None:
                return []
            return [e for e in self._recent if e.id is not None and e.id > after]

    def leave(self, client: Client) -> None:
        with self._lock:
            self._clients.discard(client)
            if client.dropped:
                self.dropped += 1

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)


def last_event_id(header: str | None) -> int | None:
    try:
        return int(header) if header else None
    except ValueError:
        return None


def response(
    client: Client,
    replay: Iterable[Event],
    heartbeat: float,
    ended: bool,
    on_close: Callable[[], None],
    wanted: Callable[[Event], bool] | None = None,
) -> StreamingResponse:
    """The event stream for ``client``: the replayed events, then live ones (those
    ``wanted`` says yes to), a heartbeat comment whenever ``heartbeat`` seconds pass without
    one; ``on_close`` when it ends."""

    async def frames() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            for event in replay:
                if wanted is None or wanted(event):
                    yield event.frame()
            if ended:
                return
            while True:
                try:
                    live: Event | None = await asyncio.wait_for(client.queue.get(), heartbeat)
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                if live is None:
                    return
                if wanted is None or wanted(live):
                    yield live.frame()
        finally:
            on_close()

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
