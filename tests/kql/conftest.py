"""KQL tests use the session-wide ``spark_session`` fixture from ``tests/conftest.py``."""
