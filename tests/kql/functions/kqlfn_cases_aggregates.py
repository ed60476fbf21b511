"""Cases: aggregates."""

CASES: list = []
