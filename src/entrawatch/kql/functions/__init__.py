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
from entrawatch.kql.functions._sql import parenthesize
from entrawatch.kql.lowering_api import AGGREGATE_FUNCTIONS, OPERATORS, SCALAR_FUNCTIONS, Typed


def _with_parentheses(builder):  # noqa: ANN001, ANN202 - wraps any builder signature
    """Make a builder's printed SQL match its tree (see ``_sql.parenthesize``)."""
    if getattr(builder, "_parenthesized", False):
        return builder

    def build(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        result = builder(*args, **kwargs)
        return Typed(parenthesize(result.expr), result.kql_type, result.default_name)

    build._parenthesized = True  # type: ignore[attr-defined]
    build.__doc__ = builder.__doc__
    build.__name__ = getattr(builder, "__name__", "builder")
    build.__wrapped__ = builder  # type: ignore[attr-defined]
    return build


for _registry in (SCALAR_FUNCTIONS, AGGREGATE_FUNCTIONS, OPERATORS):
    for _name, _builder in list(_registry.items()):
        if getattr(_builder, "__module__", "").startswith("entrawatch.kql.functions"):
            _registry[_name] = _with_parentheses(_builder)

__all__ = [
    "aggregates", "conversion", "datetime_functions", "dynamic_functions", "encoding", "ip_functions", "logical",
    "math_functions", "string_operators", "strings",
]
