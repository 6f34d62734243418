"""The raw weather layout: which day folder a message lands in, and when an object arrived.

Raw objects are partitioned by the observation day of the message itself (Firehose
dynamic partitioning, and the same rule in the local delivery)::

    <raw root>/weather/day=YYYY-MM-DD/arrived=YYYY-MM-DD/<stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>.gz
    <raw root>/weather/day=undated/arrived=YYYY-MM-DD/...   time missing or not a date

``arrived`` is the UTC day the object's oldest record reached Firehose (the stream's
``!{timestamp:yyyy-MM-dd}`` prefix expression, the same instant as the name's timestamp).
The run of day D reads all of ``day=D/`` (late arrivals included) and only
``day=undated/arrived=D/``: undated objects of other days are not even listed, so a run's
scan does not grow with the undated history. The object name keeps the arrival time to
the second (:data:`ARRIVAL_PATTERN`, also used by the SQL files) to order duplicates.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

RAW_PREFIX = "weather"
UNDATED = "undated"
ARRIVAL_PATTERN = r"-([0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2})-[^/]*$"
"""The arrival timestamp in an object name; a UUID never has a 4-2-2-2-2-2 digit run."""
ARRIVAL_FORMAT = "%Y-%m-%d-%H-%M-%S"
_ARRIVAL = re.compile(ARRIVAL_PATTERN)
_DAY = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})T")


def day_key(time: object) -> str:
    """The day folder of a message whose ``time`` field is ``time``.

    ``time[0:10]`` when ``time`` is a string starting with a valid calendar date
    ``YYYY-MM-DD`` followed by ``T``; otherwise ``undated``.
    """
    if not isinstance(time, str):
        return UNDATED
    match = _DAY.match(time)
    if not match:
        return UNDATED
    try:
        date.fromisoformat(match.group(1))
    except ValueError:
        return UNDATED
    return match.group(1)


def arrival_of(key: str) -> datetime | None:
    """The arrival time (UTC) in a Firehose object name, or None if it has none."""
    match = _ARRIVAL.search(key)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), ARRIVAL_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def day_prefix(day: str) -> str:
    """``weather/day=<day>/``: the folder of one day (or of ``undated``)."""
    return f"{RAW_PREFIX}/day={day}/"


def arrival_prefix(day: str, arrived: str) -> str:
    """``weather/day=<day>/arrived=<YYYY-MM-DD>/``: the objects of ``day`` that arrived on
    ``arrived`` (UTC)."""
    return f"{day_prefix(day)}arrived={arrived}/"


def window_closes(ds: str, grace_minutes: int) -> datetime:
    """When the raw data of day ``ds`` is complete: ``D+1 00:00 UTC + grace``.

    Firehose flushes a buffer at most 300 s after its first record, so with a grace
    longer than that every object of day D has landed by then.
    """
    start = datetime.fromisoformat(ds).replace(tzinfo=UTC)
    return start + timedelta(days=1, minutes=grace_minutes)
