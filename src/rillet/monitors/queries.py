"""The monitors' queries: a named filter's matches, an aggregate's value, an ad-hoc
predicate's matches (answered by indexes where they can) and the alerts raised.

Each first waits until the monitors have seen every record appended before the call
(read-your-writes), then reads their state under the monitors' lock.
"""

from __future__ import annotations

from rillet.aggregates import AggregateValue
from rillet.errors import not_found
from rillet.expressions.kernels import compile
from rillet.monitors.adhoc import Matches
from rillet.monitors.alerts import Alert
from rillet.monitors.filter import predicate
from rillet.monitors.plan import candidates, exact
from rillet.monitors.tables import MonitorTables
from rillet.streaming.reads import TimeBound
from rillet.time import bound_us


class Queries(MonitorTables):
    """The queries of a stream's monitors, over their state."""

    def query_filter(self, name: str, start: TimeBound, end: TimeBound) -> Matches:
        name = name.lower()
        self.caught_up()  # records appended just before are monitored, too
        with self._lock:
            found = self.filters.get(name)
            if found is None:
                raise not_found("filter", name, self.filters, f" on stream {self.stream.name!r}")
            offsets = found.offsets(_us(start), _us(end))
        return Matches(self.stream, offsets)

    def get_aggregate(self, name: str, start: TimeBound, end: TimeBound) -> AggregateValue:
        name = name.lower()
        self.caught_up()
        with self._lock:
            found = self.aggregates.get(name)
            if found is None:
                raise not_found(
                    "aggregate", name, self.aggregates, f" on stream {self.stream.name!r}"
                )
            return found.value(_us(start), _us(end))

    def execute_filter(self, expression: str, start: TimeBound, end: TimeBound) -> Matches:
        """Records matching an ad-hoc predicate.

        With indexes that cover the stream, only their candidate records are read and the
        predicate decides each; where the indexes answer the predicate exactly and no time
        range is given, no record is read.  Otherwise the predicate is pushed down: DuckDB
        evaluates its rendering over the sealed files of the time range (skipping row groups
        by their statistics), and the Arrow kernel evaluates it over the records in memory
        (:mod:`rillet.monitors.adhoc`, without the monitors' lock).
        """
        node = predicate(expression, self.columns)
        kernel = compile(node)
        low, high = _us(start), _us(end)
        self.caught_up()
        with self._lock:
            candidate = candidates(node, self.indexes)
            covered = candidate is not None and all(
                i.from_offset == 0 for i in self.indexes.values()
            )
            answered = (
                covered
                and not self.trimmed
                and low is None
                and high is None
                and exact(node, self.indexes)
            )
        if answered:
            assert candidate is not None
            return Matches(self.stream, candidate)
        chosen = candidate if covered else None
        return Matches(self.stream, self._adhoc.matching(node, kernel, low, high, chosen))

    def get_alerts(self, start: TimeBound, end: TimeBound, trigger: str | None) -> list[Alert]:
        trigger = trigger.lower() if trigger is not None else None
        self.caught_up()  # alerts of the records appended before are raised, too
        if trigger is not None and trigger not in self.triggers:
            raise not_found("trigger", trigger, self.triggers, f" on stream {self.stream.name!r}")
        alerts = []
        for rec in self.publisher.alerts_stream().scan(start, end):
            if trigger is None or rec["trigger"] == trigger:
                alerts.append(
                    Alert(
                        rec["trigger"],
                        rec["time"],
                        rec["value"],
                        rec["condition"],
                        rec["aggregate"] or "",
                        self.stream.name,
                    )
                )
        return alerts


def _us(value: TimeBound) -> int | None:
    """A time bound as epoch microseconds; None, or Confluo's 0 .. sys.maxsize, as given."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 2**62:
        return None  # sys.maxsize: "until the end"
    return bound_us(value)
