"""Projections: the read models built from the event log, and their runtime."""
