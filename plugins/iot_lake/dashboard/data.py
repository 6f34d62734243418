"""What each dashboard page shows, read from the lake through the DAGs' catalog and engine.

Every function returns plain data (dicts, lists) or a :class:`Missing` that says which
table is absent and which DAG fills it, so the pages have honest empty states. Results
are cached for a few seconds: on ``aws`` every query is an Athena query.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from iot_lake import quality
from iot_lake.config import settings
from iot_lake.engine import get_engine

SQL = Path(__file__).resolve().parent / "sql"

STATION_STATS_TABLE = "weather_stats_by_station_day"
CONDITION_STATS_TABLE = "weather_stats_by_condition_day"
COFFEES_TABLE = "coffees"
DEFAULT_DAYS = 14
HISTORY_LIMIT = 500
COLD_READINGS_LIMIT = 20

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BadRequest(ValueError):
    """A request parameter the page cannot use; the app answers 400 with this message."""


def parse_day(name: str, value: str | None) -> date | None:
    """``YYYY-MM-DD`` or nothing; anything else is the caller's error, said plainly."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}={value!r} is not a day (expected YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Missing:
    """A table the page needs is not in the catalog (or has no partitions) yet."""

    table: str
    hint: str


@dataclass(frozen=True)
class DayRange:
    start: str
    end: str
    available: list[str] = field(default_factory=list)


def _cache_seconds() -> float:
    return float(os.environ.get("IOT_LAKE_DASHBOARD_CACHE_SECONDS", "30"))


_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def _cached(key: str, compute):
    """The cached value for ``key``, as a deep copy: callers may change what they get."""
    ttl = _cache_seconds()
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < ttl:
            return copy.deepcopy(hit[1])
    value = compute()
    with _cache_lock:
        _cache[key] = (now, value)
    return copy.deepcopy(value)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def query(name: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of ``dashboard/sql/<name>.sql`` rendered with ``params`` (cached)."""
    params.setdefault("database", settings().curated_database)
    key = json.dumps([name, params], sort_keys=True, default=str)
    return _cached(
        key,
        lambda: [
            _plain(r) for r in get_engine().query(SQL / f"{name}.sql", params=params).records()
        ],
    )


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def partition_days(table: str) -> list[str]:
    database = settings().curated_database
    return _cached(f"days:{database}.{table}", lambda: quality.get_partition_days(database, table))


def day_range(
    table: str, start: str | None, end: str | None, days: int = DEFAULT_DAYS, hint: str = ""
) -> DayRange | Missing:
    """The requested range, defaulting to the last ``days`` days that the table holds."""
    first_asked, last_asked = parse_day("start", start), parse_day("end", end)
    available = partition_days(table)
    if not available:
        return Missing(table, hint)
    last = last_asked or date.fromisoformat(available[-1])
    earliest = date.fromisoformat(available[0])
    first = first_asked or max(earliest, last - timedelta(days=days - 1))
    if first > last:
        first, last = last, first
    return DayRange(first.isoformat(), last.isoformat(), available)


def weather(start: str | None, end: str | None) -> dict[str, Any]:
    hint = "run the weather_lake DAG (it writes the daily statistics tables)"
    rng = day_range(STATION_STATS_TABLE, start, end, hint=hint)
    if isinstance(rng, Missing):
        return {"missing": rng}
    params = {"start": rng.start, "end": rng.end}
    stations = query("weather_temperature_by_station_day", **params)
    conditions: list[dict[str, Any]] | Missing
    if partition_days(CONDITION_STATS_TABLE):
        conditions = query("weather_stats_by_condition", **params)
    else:
        conditions = Missing(CONDITION_STATS_TABLE, hint)
    return {
        "range": rng,
        "stations": stations,
        "conditions": conditions,
        "precipitation": precipitation(params),
    }


def precipitation(params: dict[str, str]) -> list[dict[str, Any]] | str:
    """Daily precipitation per station, or why there is none to show.

    ``precipitation_mm`` came with the liquid-precipitation fields; a lake whose tables
    or partitions predate it has no such column, which is a state to explain, not a 500.
    """
    try:
        rows = query("weather_precipitation_by_station_day", **params)
    except Exception as err:  # engine-specific "column not found" errors
        if "precipitation_mm" not in str(err):
            raise
        return "these days were written before weather_lake computed precipitation_mm"
    if all(r["precipitation_mm"] is None for r in rows):
        return "no station reported precipitation on these days"
    return rows


def coffee(start: str | None, end: str | None) -> dict[str, Any]:
    rng = day_range(
        COFFEES_TABLE,
        start,
        end,
        days=1,
        hint="run the coffee_lake DAG (it exports the coffees table)",
    )
    if isinstance(rng, Missing):
        return {"missing": rng}
    params = {"table": COFFEES_TABLE, "start": rng.start, "end": rng.end}
    shares = query("coffee_shares", **params)
    return {
        "range": rng,
        "per_hour": query("coffee_per_hour", **params),
        "shares": shares[0] if shares else {},
        "machines": query("coffee_machines", **params),
    }


def quality_history(
    start: str | None, end: str | None, table: str | None, only_failed: bool
) -> dict[str, Any]:
    rng = day_range(
        quality.QUALITY_TABLE,
        start,
        end,
        days=30,
        hint="run a DAG with checks: every check task records its results",
    )
    if isinstance(rng, Missing):
        return {"missing": rng}
    if table and not _NAME.match(table):
        raise BadRequest(f"table={table!r} is not a table name")
    params = {"start": rng.start, "end": rng.end}
    return {
        "range": rng,
        "summary": query("quality_daily_summary", **params),
        "history": query(
            "quality_check_history",
            table=table or "",
            only_failed=only_failed,
            limit=HISTORY_LIMIT,
            **params,
        ),
        "table": table or "",
        "only_failed": only_failed,
    }


def profiles(table: str | None, day: str | None) -> dict[str, Any]:
    from iot_lake.profiles import PROFILE_TABLE

    parse_day("day", day)
    if table and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$", table):
        raise BadRequest(f"table={table!r} is not a database.table name")
    if not partition_days(PROFILE_TABLE):
        return {"missing": Missing(PROFILE_TABLE, "run a DAG with a profile task")}
    available = query("profiles_available")
    tables = sorted({f"{r['database_name']}.{r['table_name']}" for r in available})
    chosen = table if table in tables else tables[0] if tables else None
    days = [r["dt"] for r in available if f"{r['database_name']}.{r['table_name']}" == chosen]
    chosen_day = day if day in days else (days[0] if days else None)
    rows: list[dict[str, Any]] = []
    if chosen and chosen_day:
        database, name = chosen.split(".", 1)
        rows = [
            {**row, "top_values": json.loads(row["top_values"] or "[]")}
            for row in query(
                "profiles_for_table_day",
                day=chosen_day,
                profiled_database=database,
                profiled_table=name,
            )
        ]
    return {"tables": tables, "table": chosen, "days": days, "day": chosen_day, "rows": rows}


def cold_readings(stations: list[str], limit: int = COLD_READINGS_LIMIT) -> list[dict] | str:
    """The newest items of the DynamoDB cold-readings sink, newest first.

    Queries each known station's partition newest-first (cheap on DynamoDB) and falls
    back to a bounded scan when no station is known yet. Returns an explanation
    string instead of rows when the table or endpoint is not reachable.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    s = settings()
    try:
        table = get_cold_readings_table(s)
        items: list[dict[str, Any]] = []
        if stations:
            from boto3.dynamodb.conditions import Key

            for station in stations:
                items += table.query(
                    KeyConditionExpression=Key("weather_station").eq(station),
                    ScanIndexForward=False,
                    Limit=limit,
                )["Items"]
        else:
            items = table.scan(Limit=max(limit * 10, 200))["Items"]
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            return f"DynamoDB table {s.cold_readings_table} does not exist yet"
        return f"DynamoDB error on {s.cold_readings_table}: {err}"
    except BotoCoreError as err:
        return f"DynamoDB is not reachable ({err})"
    items.sort(key=lambda item: str(item.get("time", "")), reverse=True)
    # Scalars only: the rule may also copy nested sky/weather groups, too wide for a list.
    return [
        {k: v for k, v in _plain(item).items() if not isinstance(v, dict | list | set)}
        for item in items[:limit]
    ]


def get_cold_readings_table(s: Any) -> Any:
    """The cold-readings DynamoDB table: the local endpoint (dynalite) or AWS (a factory:
    the one place here that asks which backend runs)."""
    from botocore.config import Config

    # A page must not hang on a stopped local endpoint: fail fast and say so.
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2})
    if s.is_local:
        import boto3

        # The local endpoint (dynalite) accepts any key; boto3 still wants one.
        credentials = (
            {}
            if os.environ.get("AWS_ACCESS_KEY_ID")
            else {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        )
        resource = boto3.resource(
            "dynamodb",
            endpoint_url=s.dynamodb_endpoint,
            region_name=s.region,
            config=config,
            **credentials,
        )
    else:
        from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook

        hook = DynamoDBHook(aws_conn_id=s.aws_conn_id, region_name=s.region)
        resource = hook.get_session().resource("dynamodb", config=config)
    return resource.Table(s.cold_readings_table)
