"""Every error class of the lake's retry contract, and how to tell a data error.

Retries (``DEFAULT_ARGS``) are for infrastructure: a network blip, a throttled API, a
lost worker. Bad data does not get better on retry, so a *data* error (a failed check,
an untypable value, a corrupt or malformed object) is an ``AirflowFailException``: the
task fails at once, with a message that names the file, line or values.

Importing this module imports Airflow (~1 s and ~90 MB): the data errors must be real
``AirflowFailException`` subclasses for the task runner to skip retries. Modules that
benchmarks and CLIs import without Airflow (``engine``) therefore import it where they
raise, not at their top; a test guards that importing the engine leaves Airflow out.
"""

from __future__ import annotations

from collections.abc import Mapping

try:
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # the library used without Airflow (the Lambda zip, simulators)

    class AirflowFailException(Exception):  # type: ignore[no-redef]
        """Stand-in when Airflow is not installed."""


class LakeDataError(AirflowFailException):
    """The data cannot be processed as it is; a retry would fail the same way."""


class QueryError(RuntimeError):
    """A query failed; the message names the query (file) and the backend's reason."""


class QueryDataError(QueryError, LakeDataError):
    """A query failed on its input (corrupt object, untypable value): never retried."""


def query_error(message: str, err: BaseException) -> QueryError:
    """The error to raise for the engine's ``err``: a data error fails the task at once."""
    return QueryDataError(message) if is_data_error(err) else QueryError(message)


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
    """True when Athena's state-change ``reason`` names one of the data errors above."""
    return bool(reason) and any(name in str(reason) for name in ATHENA_DATA_ERRORS)


# --- settings, catalog, devices, provisioning, coffee photos (branch h19-house) ---------
# The modules that raise these stay importable without Airflow (simulators, the Lambda
# zip, the engine import them): they import this module where they raise, not at their top.


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names it and how to set it."""


class CatalogError(RuntimeError):
    """A catalog object is missing or malformed; the message names it."""


class GlueTypeError(ValueError):
    """A type string that is not a valid Glue/Hive type."""


class DefinitionError(ValueError):
    """A definition file is missing, malformed or uses an unknown placeholder."""


class UnsupportedCondition(ValueError):
    """An IAM document uses a condition operator the local evaluator does not implement."""


class PkiError(ValueError):
    """A thing name or a file under the certs directory is unusable; the message says why."""


class RuleFileError(ValueError):
    """A rule file is not a valid TopicRulePayload; the message names the file and why."""


class KeyRejected(ValueError):
    """A photo's object key does not name a press: reason in the message."""


class FunctionFailed(RuntimeError):
    """The Lambda function answered a synchronous invoke with a function error."""


class PublishError(CatalogError):
    """A staged version cannot be published (missing, or no longer the staged one).

    (iot_lake.wap's: moved here with its base class, CatalogError.)
    """


# --- the engine and the Airflow SQL layer (iot_lake.engine, iot_lake.operators) ------------


class DataCheckFailed(LakeDataError):
    """A check failed on staged data: bad data does not get better on retry."""


# --- the write path and the reconciliations (iot_lake.wap, weather/coffee reconcile) ------
# (PublishError, the write path's, is above with its base class CatalogError.)


class ReconciliationError(DataCheckFailed):
    """A day's rows do not add up against their source (the raw objects for the weather,
    MySQL for the coffees); the message has every count, ``figures`` them by name."""

    def __init__(self, message: str, figures: Mapping[str, int] | None = None) -> None:
        super().__init__(message)
        self.figures = dict(figures or {})
