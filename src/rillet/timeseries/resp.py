"""Redis commands packed by column: the RESP bytes of many commands made with Arrow kernels.

redis-py packs a command in Python (microseconds an argument) and parses each reply in
Python; a bulk insert of a million values spends most of its time there.  Here the arguments
of a whole batch are framed as RESP bulk strings column by column (``$<len>\\r\\n<arg>\\r\\n``
made with ``pyarrow.compute``), rows are joined the same way, and the bytes go out through a
redis-py connection in one MULTI/EXEC; the server runs them as a few Lua scripts, so a
write has a handful of replies whatever its size.

Examples:
    >>> framed(pa.array([b"ab", b""])).to_pylist()
    [b'$2\\r\\nab\\r\\n', b'$0\\r\\n\\r\\n']
    >>> command(b"SET", b"k", b"v")
    b'*3\\r\\n$3\\r\\nSET\\r\\n$1\\r\\nk\\r\\n$1\\r\\nv\\r\\n'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import redis

_CRLF = pa.scalar(b"\r\n", pa.binary())
_DOLLAR = pa.scalar(b"$", pa.binary())
_EMPTY = pa.scalar(b"", pa.binary())


def as_binary(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """An array of numbers, text or bytes as one binary array (numbers as Arrow's text)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_binary(values.type):
        return values
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    return values.cast(pa.binary())


def framed(values: pa.Array) -> pa.Array:
    """Each value as a RESP bulk string."""
    lengths = as_binary(pc.binary_length(values))
    joined: pa.Array = pc.binary_join_element_wise(_DOLLAR, lengths, _CRLF, values, _CRLF, _EMPTY)
    return joined


def command(*args: bytes) -> bytes:
    """One command's RESP bytes."""
    return head(len(args), *args)


def head(count: int, *args: bytes) -> bytes:
    """The start of a command of ``count`` arguments: its first ``args``, framed (the rest
    follow, already framed, e.g. from :func:`rows_bytes`)."""
    parts = [b"*%d\r\n" % count]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def rows_bytes(columns: Sequence[pa.Array]) -> tuple[pa.Buffer, np.ndarray]:
    """The framed arguments of every row, rows one after the other, and where each row
    starts (``offsets[i]`` to ``offsets[i + 1]`` is row ``i``)."""
    joined = pc.binary_join_element_wise(*(framed(c) for c in columns), _EMPTY)
    if joined.null_count:
        raise ValueError("a RESP argument is null")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    offsets = offsets[joined.offset : joined.offset + len(joined) + 1]
    return joined.buffers()[2], offsets


def transaction(client: redis.Redis, parts: Sequence[bytes | memoryview], queued: int) -> list[Any]:
    """Send ``parts`` (``queued`` packed commands) between MULTI and EXEC on one connection;
    the EXEC reply, one result per command.  Any failure before EXEC drops the connection,
    which makes Redis discard the transaction: nothing of it is applied."""
    pool = client.connection_pool
    connection: Any = pool.get_connection()  # redis-py leaves these methods untyped
    try:
        connection.send_packed_command([command(b"MULTI"), *parts, command(b"EXEC")])
        for _ in range(queued + 1):  # +OK, then +QUEUED for each command
            connection.read_response()
        replies: list[Any] = connection.read_response()
        return replies
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
