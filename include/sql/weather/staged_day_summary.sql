-- The staged day dt = {{ ds }} in one row: what the write step returns, the DAG branches
-- on and the audit reconciles with the raw objects.
--   rows, observations: rows and distinct (weather_station, observed_at) of the staged
--                       weather_observations (one observation unnests into many rows);
--   rejects:            rows of the staged weather_rejects;
--   lines_read:         raw lines the day's one typed pass (weather_typed_records) read;
--   duplicates:         later copies of an observation, which flatten_observations.sql
--                       leaves out.
-- Read from the staged versions (<curated>_staging), never the published ones.
SELECT
    o.rows,
    o.observations,
    r.rejects,
    t.lines_read,
    t.duplicates
FROM (
    SELECT
        count(*) AS rows,
        count(DISTINCT concat(weather_station, '|', CAST(observed_at AS varchar))) AS observations
    FROM {{ lake.staging_database }}.weather_observations
    WHERE dt = '{{ ds }}'
) AS o
CROSS JOIN (
    SELECT count(*) AS rejects
    FROM {{ lake.staging_database }}.weather_rejects
    WHERE dt = '{{ ds }}'
) AS r
CROSS JOIN (
    -- by key, on two narrow columns: lines read, and the copies beyond each publishable
    -- observation's first (rejects are grouped too, and only counted)
    SELECT
        coalesce(sum(k.lines), 0) AS lines_read,
        coalesce(sum(CASE WHEN k.publishable THEN k.lines - 1 ELSE 0 END), 0) AS duplicates
    FROM (
        SELECT
            reason IS NULL AS publishable,
            weather_station,
            observed_at,
            count(*) AS lines
        FROM {{ lake.staging_database }}.weather_typed_records
        WHERE dt = '{{ ds }}'
        GROUP BY reason IS NULL, weather_station, observed_at
    ) AS k
) AS t
