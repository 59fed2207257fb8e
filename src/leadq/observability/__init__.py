"""Metrics, structured logs and request ids: where the money and the time go."""
