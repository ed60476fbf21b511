"""Cases: datetime."""

CASES: list = []
