"""Tests of the monitors: filters, aggregates, triggers, alerts and indexes (Confluo's)."""
