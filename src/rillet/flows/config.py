"""The ``rillet.*`` settings of flows: names, defaults, validation, and a flow's snapshot.

FlumeBase's session configuration, with ``rillet.`` in place of ``flumebase.``.  A change
affects only flows submitted after it: each flow takes a :class:`FlowConfig` when submitted.
Keys outside ``rillet.`` are kept as given (the shell's ``\\set`` takes any key); a key under
``rillet.`` that is not known is refused, naming the closest known one.  FlumeBase's own name
of a known setting (``flumebase.slack.time``) sets the rillet one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rillet.errors import ConfigError, suggest
from rillet.time import parse_duration_us

_ZERO = re.compile(r"0+\s*[a-z]*")

BUCKETS = "rillet.aggregation.buckets"
CONTINUOUS = "rillet.aggregation.continuous.output"
SLACK = "rillet.slack.time"
MAX_PRIOR = "rillet.aggregation.max.prior.interval"
AUTOWATCH = "rillet.flow.autowatch"
LATENESS = "rillet.window.lateness"
IDLE_TIMEOUT = "rillet.window.idle_timeout"
SKETCHES = "rillet.window.sketches"

#: a flow's own options (``CREATE STREAM name WITH (option = value) AS SELECT``) that are
#: settings too: the option's name and the setting's key
OPTIONS = {"lateness": LATENESS, "idle_timeout": IDLE_TIMEOUT, "sketches": SKETCHES}


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


def _duration(key: str, value: Any) -> int:
    """A duration in microseconds: a text such as ``'0s'``, ``'500ms'``, ``'1m'``, an
    ``INTERVAL`` (microseconds), or a number of milliseconds."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("0", "off", "none") or _ZERO.fullmatch(text):
            return 0
        return parse_duration_us(text, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"setting {key!r}: value must be a duration such as '0s', '30s' or '5m', got {value!r}",
            setting=key,
        )
    if type(value) is not int:  # an INTERVAL literal: microseconds already
        return int(value)
    return value * 1000


def _checked_duration(key: str, value: Any) -> Any:
    """``value`` as given, once it reads as a duration (flows read it when submitted)."""
    _duration(key, value)
    return value


def _sketches(key: str, value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ("value", "state"):
        raise ConfigError(
            f"setting {key!r}: value must be 'value' (sketch metrics finished) or 'state' "
            f"(their mergeable DataSketches state, as BINARY), got {value!r}",
            setting=key,
        )
    return value.strip().lower()


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
    LATENESS: (
        "0s",
        _checked_duration,
        "TUMBLE/HOP/SESSION windows: how far behind the newest event time the watermark is",
    ),
    IDLE_TIMEOUT: (
        "0s",
        _checked_duration,
        "TUMBLE/HOP/SESSION windows: after this long without input the watermark moves to "
        "the wall clock (0: never)",
    ),
    SKETCHES: (
        "value",
        _sketches,
        "TUMBLE/HOP/SESSION windows: sketch metrics as values or as their mergeable state",
    ),
}


def canonical(key: str) -> str:
    """The setting's rillet key: FlumeBase's name of a known setting (``flumebase.slack.time``,
    as the reference's examples write them) is the same setting.

    Examples:
        >>> canonical("flumebase.aggregation.buckets"), canonical("io.skip.checksum.errors")
        ('rillet.aggregation.buckets', 'io.skip.checksum.errors')
    """
    if isinstance(key, str) and key.startswith("flumebase."):
        ours = "rillet." + key[len("flumebase.") :]
        if ours in KNOWN:
            return ours
    return key


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


def flow_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of ``config`` a flow runs with (the shell's own left out), to keep
    beside a flow that outlives the session.

    Examples:
        >>> flow_settings({**defaults(), LATENESS: "30s"})[LATENESS]
        '30s'
    """
    return {key: config[key] for key in KNOWN if key != AUTOWATCH and key in config}


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
    lateness_us: int = 0
    idle_timeout_us: int = 0  # 0: an idle input never moves the watermark
    sketch_state: bool = False

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> FlowConfig:
        values = {**defaults(), **config}
        return cls(
            buckets=int(values[BUCKETS]),
            continuous=bool(values[CONTINUOUS]),
            slack_us=int(values[SLACK]) * 1000,
            max_prior_us=int(values[MAX_PRIOR]) * 1000,
            lateness_us=_duration(LATENESS, values[LATENESS]),
            idle_timeout_us=_duration(IDLE_TIMEOUT, values[IDLE_TIMEOUT]),
            sketch_state=_sketches(SKETCHES, values[SKETCHES]) == "state",
        )

    def with_options(self, options: Mapping[str, Any]) -> FlowConfig:
        """This configuration with a flow's own options (``lateness``, ``idle_timeout``,
        ``sketches``) applied; an option that does not exist is a ConfigError naming it.

        Examples:
            >>> c = FlowConfig().with_options({"lateness": "5s", "idle_timeout": "1m"})
            >>> c.lateness_us, c.idle_timeout_us
            (5000000, 60000000)
        """
        changes: dict[str, Any] = {}
        for name, value in options.items():
            key = OPTIONS.get(name.lower()) if isinstance(name, str) else None
            if key is None:
                hint = suggest(str(name), OPTIONS)
                extra = f"; did you mean {hint!r}?" if hint else ""
                raise ConfigError(
                    f"unknown window option {name!r} (known: {', '.join(OPTIONS)}){extra}",
                    setting=str(name),
                )
            if key == SKETCHES:
                changes["sketch_state"] = _sketches(name, value) == "state"
            else:
                field = "lateness_us" if key == LATENESS else "idle_timeout_us"
                changes[field] = _duration(name, value)
        return dataclasses.replace(self, **changes)
