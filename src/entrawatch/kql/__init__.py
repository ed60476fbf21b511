"""KQL for entrawatch: compile Kusto queries to DuckDB or Spark SQL and run them.

``compile(query, schema, dialect)`` returns SQL text; ``run(query, warehouse)`` executes it and
returns an Arrow table with Kusto's column names and types. The pipeline is lexer -> parser
(:mod:`parser`) -> binder/lowering (:mod:`compiler`) -> sqlglot -> SQL; see docs/kql.md.
"""

from __future__ import annotations

from entrawatch.errors import KqlError, KqlSemanticError, KqlSyntaxError, KqlUnsupportedError
from entrawatch.kql.api import CompiledQuery, compile, compile_query, parse, run

__all__ = [
    "CompiledQuery",
    "KqlError",
    "KqlSemanticError",
    "KqlSyntaxError",
    "KqlUnsupportedError",
    "compile",
    "compile_query",
    "parse",
    "run",
]
