"""Every tunable of a database, once: name, default, type and what it does."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rillet.errors import ConfigError, suggest

#: how write-ahead log frames may be compressed: Arrow IPC's own buffer compression
LOG_COMPRESSIONS = ("lz4", "zstd", "none")
#: the settings that take one of a few words rather than a number
CHOICES = {"log_compression": LOG_COMPRESSIONS}


@dataclass(frozen=True, slots=True)
class Settings:
    """Engine settings; pass any of them to :func:`rillet.connect` as keyword arguments."""

    #: relaxed durability: the longest time (seconds) between an append and its fsync
    commit_interval: float = 0.005
    #: single-record appends are gathered into one Arrow batch of at most this many rows
    buffer_rows: int = 8192
    #: how often (seconds) closed partitions are sealed and retention is applied
    maintenance_interval: float = 0.5
    #: an open partition holding this many rows in memory is sealed to a file anyway
    seal_rows: int = 2_000_000
    #: a partition counts as closed once event time has passed its end by this share of its width
    seal_grace: float = 0.1
    #: a write-ahead log segment is rolled over at this size (bytes)
    segment_bytes: int = 64 * 1024 * 1024
    #: rows per Parquet row group in sealed files: reading one record from a file decodes a
    #: whole group (16k rows: ~1.5 ms), while scans barely notice the size
    row_group_rows: int = 16 * 1024
    #: how write-ahead log frames are compressed, for streams that do not choose
    #: (``create_stream(log_compression=...)``): "lz4", "zstd" or "none".  A perf-log row
    #: takes 67 bytes of log uncompressed, 40 with lz4 and 30 with zstd, which costs the
    #: appender more CPU (bench/ingest.py prints each side by side)
    log_compression: str = "lz4"
    #: how often (seconds) a named flow checkpoints its input offsets and open windows: a
    #: reopen after a crash replays the input of about this long (after ``close()``, none).
    #: A flow whose checkpoint takes long waits 20 times as long as it took (at most 5 % of
    #: its time goes to checkpoints)
    checkpoint_interval: float = 1.0

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> Settings:
        """Settings from keyword arguments, naming any unknown or ill-typed one."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key, value in options.items():
            field = known.get(key)
            if field is None:
                hint = suggest(key, known)
                extra = f"; did you mean {hint!r}?" if hint else ""
                raise ConfigError(f"unknown setting {key!r}{extra}", setting=key)
            choices = CHOICES.get(key)
            if choices is not None:
                if value not in choices:
                    raise ConfigError(
                        f"setting {key!r} must be one of {', '.join(choices)}, got {value!r}",
                        setting=key,
                    )
                continue
            kind = float if field.type == "float" else int
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or value < 0 or (value == 0 and key != "seal_grace"):
                raise ConfigError(
                    f"setting {key!r} must be a positive number, got {value!r}", setting=key
                )
            if kind is int and not isinstance(value, int):
                raise ConfigError(f"setting {key!r} must be an integer, got {value!r}", setting=key)
        return cls(**options)
