-- The flatten's one pass over run day dt = {{ ds }}: every raw line read once, typed once
-- (typed_records.sql.j2), with its reject reason (null: publishable) and its raw text.
-- Staged as partition dt = {{ ds }} of {{ lake.staging_database }}.weather_typed_records;
-- flatten_observations.sql, flatten_rejects.sql and staged_day_summary.sql read it
-- there, so the gzip JSON is not read again for each output.
-- No window here: the pass streams, line by line. Copies of an observation (at-least-once
-- delivery, resends) are rare, so flatten_observations.sql finds the repeated keys on two
-- narrow columns of this table and orders only their copies (a window over every typed
-- line held the whole day in memory and was a third of this pass on DuckDB).
WITH
{% include "weather/typed_records.sql.j2" %}

SELECT
    c.source,
    c.arrived_at,
    -- what weather_rejects shows, and what breaks a tie between copies in one object
    c.raw,
    c.reason,
    c.weather_station,
    c.observed_at,
    c.latitude,
    c.longitude,
    c.elevation,
{%- for m in params.measures %}
    c.{{ m.column }},
    c.{{ m.column }}_quality,
{%- endfor %}
    c.sky_cover_condition,
    c.weather_condition,
    c.liquid_precip,
    c.extreme_temperature
FROM classified AS c
