"""The ``rillet.*`` settings of flows: names, defaults, validation, and a flow's snapshot.

FlumeBase's session configuration, with ``rillet.`` in place of ``flumebase.``.  A change
affects only flows submitted after it: each flow takes a :class:`FlowConfig` when submitted.
Keys outside ``rillet.`` are kept as given (the shell's ``\\set`` takes any key); a key under
``rillet.`` that is not known is refused, naming the closest known one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rillet.errors import ConfigError, suggest

BUCKETS = "rillet.aggregation.buckets"
CONTINUOUS = "rillet.aggregation.continuous.output"
SLACK = "rillet.slack.time"
MAX_PRIOR = "rillet.aggregation.max.prior.interval"
AUTOWATCH = "rillet.flow.autowatch"


def _integer(key: str, value: Any, least: int) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ConfigError(
                f"setting {key!r}: value must be an integer, got {value!r}", setting=key
            ) from None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        kind = "a positive integer" if least > 0 else "a non-negative integer"
        raise ConfigError(f"setting {key!r}: value must be {kind}, got {value!r}", setting=key)
    return value


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError(
            f"setting {key!r}: value must be true or false, got {value!r}", setting=key
        )
    return value


#: every known key: (default, how a given value is read and checked, what it does)
KNOWN: dict[str, tuple[Any, Callable[[str, Any], Any], str]] = {
    BUCKETS: (100, lambda k, v: _integer(k, v, 1), "buckets a rolling window is cut into"),
    CONTINUOUS: (
        False,
        _boolean,
        "emit every group with data in the window at every step, not only non-empty buckets",
    ),
    SLACK: (200, lambda k, v: _integer(k, v, 0), "ms out-of-order events may be late"),
    MAX_PRIOR: (
        5000,
        lambda k, v: _integer(k, v, 0),
        "ms past which a late event is dropped rather than counted in later windows",
    ),
    AUTOWATCH: (True, _boolean, "the shell watches every flow it submits"),
}


def validate(key: str, value: Any) -> Any:
    """``value`` for ``key`` as the setting holds it; ConfigError naming the key if wrong."""
    if not isinstance(key, str) or not key:
        raise ConfigError(f"a setting's key must be a non-empty text, got {key!r}", setting=key)
    known = KNOWN.get(key)
    if known is not None:
        return known[1](key, value)
    if key.startswith("rillet."):
        hint = suggest(key, KNOWN)
        extra = f"; did you mean {hint!r}?" if hint else ""
        raise ConfigError(f"unknown setting {key!r}{extra}", setting=key)
    return value


def defaults() -> dict[str, Any]:
    """Every known key with its default."""
    return {key: default for key, (default, _, _) in KNOWN.items()}


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """The settings one flow runs with, taken when it was submitted.

    Examples:
        >>> c = FlowConfig.of({BUCKETS: 1, SLACK: 0})
        >>> c.buckets, c.continuous, c.slack_us, c.max_prior_us
        (1, False, 0, 5000000)
    """

    buckets: int = 100
    continuous: bool = False
    slack_us: int = 200_000
    max_prior_us: int = 5_000_000

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> FlowConfig:
        values = {**defaults(), **config}
        return cls(
            buckets=int(values[BUCKETS]),
            continuous=bool(values[CONTINUOUS]),
            slack_us=int(values[SLACK]) * 1000,
            max_prior_us=int(values[MAX_PRIOR]) * 1000,
        )
