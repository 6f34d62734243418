-- The flatten's one pass over run day dt = {{ ds }}: every raw line read once, typed once
-- (typed_records.sql.j2), with its reject reason (null: publishable) and, for publishable
-- records, its copy number among the records of the same (weather_station, observed_at).
-- Staged as partition dt = {{ ds }} of {{ lake.staging_database }}.weather_typed_records;
-- flatten_observations.sql, flatten_rejects.sql and staged_day_summary.sql read it
-- there, so the gzip JSON is not read again for each output.
-- Duplicates (at-least-once delivery, resends) keep the earliest arrival; ties are broken
-- by object key, then by the record's own text: a total order that does not depend on
-- scheduling, so the same raw objects always publish the same rows.
WITH
{% include "weather/typed_records.sql.j2" %}

SELECT
    c.source,
    c.arrived_at,
    -- the raw text is kept for rejects only (what weather_rejects shows); the published
    -- records' text would only make the intermediate as large as the raw data
    CASE WHEN c.reason IS NOT NULL THEN c.raw END AS raw,
    c.reason,
    CASE WHEN c.reason IS NULL THEN row_number() OVER (
        PARTITION BY c.reason IS NULL, c.weather_station, c.observed_at
        ORDER BY c.arrived_at ASC NULLS LAST, c.source ASC, c.raw ASC
    ) END AS copy_number,
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
