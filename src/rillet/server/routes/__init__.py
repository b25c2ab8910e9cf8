"""The endpoints, by resource: streams and records, monitors, queries, live events, and the
server's own (health, metrics, OpenAPI)."""
