"""Cases: dynamic."""

CASES: list = []
