"""Deterministic rules used by the lead-qualification engine."""
