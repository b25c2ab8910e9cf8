"""Monitors: what is evaluated on every record as it arrives (Confluo's filters, aggregates,
triggers and alerts, and indexes)."""

from rillet.monitors.adhoc import Matches
from rillet.monitors.alerts import Alert
from rillet.monitors.monitor_set import MonitorSet

__all__ = ["Alert", "Matches", "MonitorSet"]
