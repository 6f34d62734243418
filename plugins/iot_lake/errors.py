"""Errors that tell Airflow whether a retry can help.

Retries (``DEFAULT_ARGS``) are for infrastructure: a network blip, a throttled API, a
lost worker. Bad data does not get better on retry, so a *data* error (a failed check,
an untypable value, a corrupt or malformed object) is an ``AirflowFailException``: the
task fails at once, with a message that names the file, line or values.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _classes() -> dict[str, type[Exception]]:
    """Built on first use: importing Airflow costs ~2.5 s and ~90 MB, which the library's
    users outside a task (benchmarks, CLIs) should not pay just by importing the engine."""
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # the library used without Airflow

        class AirflowFailException(Exception):  # type: ignore[no-redef]
            """Stand-in when Airflow is not installed."""

    class LakeDataError(AirflowFailException):
        """The data cannot be processed as it is; a retry would fail the same way."""

    LakeDataError.__module__, LakeDataError.__qualname__ = __name__, "LakeDataError"
    return {"AirflowFailException": AirflowFailException, "LakeDataError": LakeDataError}


def __getattr__(name: str) -> Any:
    """``LakeDataError`` / ``AirflowFailException``, created lazily (PEP 562)."""
    if name in ("LakeDataError", "AirflowFailException"):
        return _classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Athena/Trino error names of data that cannot be read or typed (not of broken SQL).
ATHENA_DATA_ERRORS = (
    "HIVE_BAD_DATA",
    "HIVE_CURSOR_ERROR",
    "HIVE_CANNOT_OPEN_SPLIT",
    "INVALID_CAST_ARGUMENT",
    "INVALID_FUNCTION_ARGUMENT",
    "NUMERIC_VALUE_OUT_OF_RANGE",
    "DIVISION_BY_ZERO",
)
# DuckDB messages of unreadable input that DuckDB raises as IO errors.
DUCKDB_DATA_MESSAGES = ("not a GZIP stream", "Malformed", "corrupt", "Corrupt", "too small")


def is_data_error(error: BaseException) -> bool:
    """True when ``error`` says the input is bad (not the engine, network or SQL)."""
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a dependency of the library
        return False
    if isinstance(error, duckdb.DataError | duckdb.InvalidInputException):
        return True
    if isinstance(error, duckdb.IOException):
        return any(marker in str(error) for marker in DUCKDB_DATA_MESSAGES)
    return False


def is_athena_data_error(reason: str | None) -> bool:
    return bool(reason) and any(name in str(reason) for name in ATHENA_DATA_ERRORS)
