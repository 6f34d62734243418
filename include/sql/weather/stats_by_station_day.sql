-- Air temperature per station for observation day dt = {{ ds }}: one row per station.
-- Counted over distinct observations, not over the unnested rows (an observation with
-- three cloud layers must weigh as much as one with none).
WITH observations AS (
    SELECT DISTINCT weather_station, observed_at, air_temperature
    FROM {{ lake.curated_database }}.weather_observations
    WHERE dt = '{{ ds }}'
)

SELECT
    weather_station,
    count(*) AS observation_count,
    count(air_temperature) AS air_temperature_count,
    min(air_temperature) AS air_temperature_min,
    -- a sum of whole tenths of a degree is exact in any order, so reruns give equal
    -- averages (a plain avg() over parallel partial sums may differ in the last bit)
    round(sum(round(air_temperature * 10)) / count(air_temperature) / 10, 2) AS air_temperature_avg,
    max(air_temperature) AS air_temperature_max
FROM observations
GROUP BY weather_station
