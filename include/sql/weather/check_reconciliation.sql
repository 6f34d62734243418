-- Every distinct raw observation of day dt = {{ ds }} (arrival hours D-1 .. D+1, observed
-- on day D) appears in the staged weather_observations (audited before publishing), and
-- the staged partition holds nothing else.
-- Each column must be true for the check to pass (common.sql SQLCheckOperator).
WITH raw_observations AS (
    SELECT DISTINCT r.weather_station, date_parse(r.time, '%Y-%m-%dT%H:%i:%sZ') AS observed_at
    FROM {{ lake.raw_database }}.weather AS r
    WHERE concat(r.partition_0, '-', r.partition_1, '-', r.partition_2)
        BETWEEN date_format(date_add('day', -{{ params.get('late_days', 1) }}, DATE '{{ ds }}'), '%Y-%m-%d')
        AND date_format(date_add('day', {{ params.get('late_days', 1) }}, DATE '{{ ds }}'), '%Y-%m-%d')
),

day_raw AS (
    SELECT weather_station, observed_at
    FROM raw_observations
    WHERE observed_at >= CAST(DATE '{{ ds }}' AS timestamp)
        AND observed_at < CAST(date_add('day', 1, DATE '{{ ds }}') AS timestamp)
),

flattened AS (
    SELECT DISTINCT weather_station, observed_at
    FROM {{ lake.staging_database }}.weather_observations
    WHERE dt = '{{ ds }}'
)

SELECT
    count_if(f.weather_station IS NULL) = 0 AS every_raw_observation_flattened,
    count_if(r.weather_station IS NULL) = 0 AS no_observation_without_raw
FROM day_raw AS r
FULL OUTER JOIN flattened AS f
    ON r.weather_station = f.weather_station AND r.observed_at = f.observed_at
