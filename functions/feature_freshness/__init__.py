"""Freshness: how old the newest ingested event of each feature group is, on a schedule."""
