"""The weather tables and the SQL files that write them, as data.

Kept free of imports: the DAG file reads it while the scheduler parses it, and the
library (:mod:`iot_lake.weather.pipeline`, :mod:`iot_lake.weather.tables`) reads the
same names, so the DAG and the tools write a day the same way.
"""

from __future__ import annotations

OBSERVATIONS = "weather_observations"
REJECTS = "weather_rejects"
STATS_BY_STATION = "weather_stats_by_station_day"
STATS_BY_CONDITION = "weather_stats_by_condition_day"
TYPED = "weather_typed_records"
"""The flatten's one typed pass over a day's raw lines: staged only, never published."""

WRITE_STEPS: tuple[dict[str, str], ...] = (
    {TYPED: "weather/typed_records.sql"},
    {REJECTS: "weather/flatten_rejects.sql", OBSERVATIONS: "weather/flatten_observations.sql"},
)
"""The day's write (:mod:`iot_lake.wap.steps`): the raw lines are read and typed once,
then both outputs are written from that pass (rejects listed first: they are published
first)."""

SUMMARY_SQL = "weather/staged_day_summary.sql"
"""One row over the staged day: rows, observations, rejects, lines_read, duplicates."""

STATS_SQL = {
    STATS_BY_STATION: "weather/stats_by_station_day.sql",
    STATS_BY_CONDITION: "weather/stats_by_condition_day.sql",
}
