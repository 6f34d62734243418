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
{% include "weather/typed_records.sql.j2" %},

counted AS (
    -- Copies are rare: the record's text breaks ties only among copies that arrived in
    -- the same object, so the order below compares texts of repeated keys only (sorting
    -- every line's text made this pass ~2x slower on DuckDB). Same order, same rows.
    SELECT
        c.*,
        count(*) OVER (PARTITION BY c.reason IS NULL, c.weather_station, c.observed_at) AS copies
    FROM classified AS c
),

numbered AS (
    SELECT
        n.source,
        n.arrived_at,
        -- the raw text is kept for rejects only (what weather_rejects shows); the published
        -- records' text would only make the intermediate as large as the raw data
        CASE WHEN n.reason IS NOT NULL THEN n.raw END AS raw,
        CASE WHEN n.copies > 1 THEN n.raw END AS tie_text,
        n.reason,
        n.weather_station,
        n.observed_at,
        n.latitude,
        n.longitude,
        n.elevation,
{%- for m in params.measures %}
        n.{{ m.column }},
        n.{{ m.column }}_quality,
{%- endfor %}
        n.sky_cover_condition,
        n.weather_condition,
        n.liquid_precip,
        n.extreme_temperature
    FROM counted AS n
)

SELECT
    c.source,
    c.arrived_at,
    c.raw,
    c.reason,
    CASE WHEN c.reason IS NULL THEN row_number() OVER (
        PARTITION BY c.reason IS NULL, c.weather_station, c.observed_at
        ORDER BY c.arrived_at ASC NULLS LAST, c.source ASC, c.tie_text ASC
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
FROM numbered AS c
