"""KQL function, aggregate and string-operator tables.

Importing this package fills ``lowering_api.SCALAR_FUNCTIONS``, ``AGGREGATE_FUNCTIONS`` and
``OPERATORS``; each module registers its builders with the decorators from ``lowering_api``.
"""

from entrawatch.kql.functions import (  # noqa: F401
    aggregates,
    conversion,
    datetime_functions,
    dynamic_functions,
    encoding,
    ip_functions,
    logical,
    math_functions,
    string_operators,
    strings,
)

__all__ = [
    "aggregates", "conversion", "datetime_functions", "dynamic_functions", "encoding", "ip_functions", "logical",
    "math_functions", "string_operators", "strings",
]
