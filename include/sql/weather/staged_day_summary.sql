-- The staged day dt = {{ ds }} in one row: what the write step returns, the DAG branches
-- on and the audit reconciles with the raw objects.
--   rows, observations: rows and distinct (weather_station, observed_at) of the staged
--                       weather_observations (one observation unnests into many rows);
--   rejects:            rows of the staged weather_rejects;
--   lines_read:         raw lines the day's one typed pass (weather_typed_records) read;
--   duplicates:         later copies of an observation that pass removed.
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
    SELECT
        count(*) AS lines_read,
        count(CASE WHEN copy_number > 1 THEN 1 END) AS duplicates
    FROM {{ lake.staging_database }}.weather_typed_records
    WHERE dt = '{{ ds }}'
) AS t
