"""What a replay sends, and when: stations, options and the merged, encoded schedule.

Shared by the fleet (:mod:`.fleet`, which publishes) and the producer processes
(:mod:`.producer`, which parse and encode at ``--speed max``); neither imports the other
for these.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from simulators.weather_station.isd import ParseStats, read_observations
from simulators.weather_station.message import Message, encode, to_message

REBASE_MODES = ("none", "start", "end")
BATCH = 512
"""Schedule items handed over at once (producer pipe, publisher loop)."""

_T = TypeVar("_T")


class FleetError(RuntimeError):
    """The fleet cannot run as configured (missing certificate, unreachable broker...)."""


@dataclasses.dataclass(frozen=True)
class Station:
    """One simulated station: the thing it runs as and the ISD file it replays."""

    thing: str
    file: Path


@dataclasses.dataclass(frozen=True)
class ReplayOptions:
    """What to replay and how fast."""

    speed: float | None = 3600.0  # None = as fast as possible
    hours: float | None = None  # replay only the first N hours of each file
    # none | start (first obs at now) | end (last replayed obs within the day before now)
    rebase: str = "none"

    def __post_init__(self) -> None:
        if self.speed is not None and self.speed <= 0:
            raise FleetError(f"speed must be positive or 'max', got {self.speed}")
        if self.hours is not None and self.hours <= 0:
            raise FleetError(f"hours must be positive, got {self.hours}")
        if self.rebase not in REBASE_MODES:
            raise FleetError(f"rebase must be one of {', '.join(REBASE_MODES)}")


def _replay_end(station: Station, hours: float | None) -> dt.datetime | None:
    """Time of the last observation the replay will send (one extra streaming pass)."""
    last: dt.datetime | None = None
    first: dt.datetime | None = None
    for observation in read_observations(station.file, ParseStats()):
        if first is None:
            first = observation.time
        if hours is not None and observation.time >= first + dt.timedelta(hours=hours):
            break
        last = observation.time
    return last


def station_messages(
    station: Station,
    options: ReplayOptions,
    stats: ParseStats,
    now: dt.datetime | None = None,
) -> Iterator[tuple[float, Message]]:
    """(seconds after the station's first observation, message), in file order."""
    now = (now or dt.datetime.now(dt.UTC)).replace(second=0, microsecond=0)
    shift: dt.timedelta | None = None
    if options.rebase == "end":
        # Whole days only: readings keep their time of day (the diurnal cycle stays true)
        # and a replay run again the same day publishes the very same readings, which the
        # lake deduplicates by (weather_station, time).
        last = _replay_end(station, options.hours)
        shift = dt.timedelta(days=(now - last).days) if last else None
    first: dt.datetime | None = None
    for observation in read_observations(station.file, stats):
        if first is None:
            first = observation.time
            if options.rebase == "start":
                shift = now - first
        offset = (observation.time - first).total_seconds()
        if options.hours is not None and offset >= options.hours * 3600:
            return
        yield max(offset, 0.0), to_message(observation, time_shift=shift)


def merged_schedule(
    stations: Sequence[Station],
    options: ReplayOptions,
    stats: dict[str, ParseStats],
    now: dt.datetime | None = None,
) -> Iterator[tuple[float, int, Message]]:
    """Every station's messages merged by replay offset: (offset_s, station index, message).

    Each station's own order is kept (heapq.merge never reorders one input).
    """

    def tagged(index: int, station: Station) -> Iterator[tuple[float, int, Message]]:
        for offset, message in station_messages(station, options, stats[station.thing], now):
            yield offset, index, message

    streams = [tagged(index, station) for index, station in enumerate(stations)]
    return heapq.merge(*streams, key=lambda item: (item[0], item[1]))


def merged_payloads(
    stations: Sequence[Station],
    options: ReplayOptions,
    stats: dict[str, ParseStats],
    now: dt.datetime | None = None,
) -> Iterator[tuple[float, int, bytes]]:
    """:func:`merged_schedule` with each message encoded: (offset_s, station index, payload)."""
    for offset, index, message in merged_schedule(stations, options, stats, now):
        yield offset, index, encode(message)


def chunked(items: Iterator[_T], size: int) -> Iterator[list[_T]]:
    """Lists of ``size`` consecutive items (the last one shorter)."""
    while batch := list(itertools.islice(items, size)):
        yield batch
