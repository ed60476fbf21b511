"""Cases: misc."""

CASES: list = []
