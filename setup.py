"""Build hook for the one C extension; everything else is in pyproject.toml.

``entrawatch.readers._jsonscan`` computes ``_Extra`` in one pass (docs/ingest.md, Session 8). It is
optional: where no C compiler is found, the install still succeeds and the ingest computes ``_Extra``
with DuckDB's ``json_merge_patch``, to the same bytes (``entrawatch.readers.remainder``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "entrawatch.readers._jsonscan",
            ["src/entrawatch/readers/_jsonscan.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
