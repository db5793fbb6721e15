"""Helpers every function shares: event parsing, retries, deadlines and metric publication."""
