"""StreamOptions: how a stream is partitioned, kept and made durable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rillet.errors import ConfigError
from rillet.settings import LOG_COMPRESSIONS
from rillet.time import Granularity, parse_duration_us

DURABILITY = ("memory", "relaxed", "durable")


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """How a stream is partitioned, kept and made durable (validated, as given)."""

    partition: str = "1h"
    retention: str | None = None
    max_bytes: int | None = None
    durability: str = "relaxed"
    #: how the write-ahead log's frames are compressed; None: the ``log_compression`` setting
    log_compression: str | None = None

    def __post_init__(self) -> None:
        for option in ("partition", "retention"):
            value = getattr(self, option)
            if not isinstance(value, str) and not (option == "retention" and value is None):
                raise ConfigError(
                    f"{option} must be a duration text such as '1h' or '7d', not {value!r}",
                    option=option,
                )
        Granularity.parse(self.partition)
        if self.retention is not None:
            parse_duration_us(self.retention, "retention")
        if self.max_bytes is not None and (
            isinstance(self.max_bytes, bool)
            or not isinstance(self.max_bytes, int)
            or self.max_bytes <= 0
        ):
            raise ConfigError(
                f"max_bytes must be a positive integer, got {self.max_bytes!r}", option="max_bytes"
            )
        if self.durability not in DURABILITY:
            raise ConfigError(
                f"durability {self.durability!r} is not one of {', '.join(DURABILITY)}",
                option="durability",
            )
        if self.log_compression is not None and self.log_compression not in LOG_COMPRESSIONS:
            raise ConfigError(
                f"log_compression {self.log_compression!r} is not one of "
                f"{', '.join(LOG_COMPRESSIONS)}",
                option="log_compression",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "retention": self.retention,
            "max_bytes": self.max_bytes,
            "durability": self.durability,
            "log_compression": self.log_compression,
        }
