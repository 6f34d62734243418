-- Air temperature per present weather condition for observation day dt = {{ ds }}.
-- An observation counts once per condition it reports; observations that report no
-- present weather are grouped under a NULL condition.
WITH observation_conditions AS (
    SELECT DISTINCT weather_station, observed_at, present_weather_condition, air_temperature
    FROM {{ lake.curated_database }}.weather_observations
    WHERE dt = '{{ ds }}'
)

SELECT
    present_weather_condition,
    count(*) AS observation_count,
    count(DISTINCT weather_station) AS station_count,
    count(air_temperature) AS air_temperature_count,
    min(air_temperature) AS air_temperature_min,
    -- a sum of whole tenths of a degree is exact in any order, so reruns give equal
    -- averages (a plain avg() over parallel partial sums may differ in the last bit)
    round(sum(round(air_temperature * 10)) / count(air_temperature) / 10, 2) AS air_temperature_avg,
    max(air_temperature) AS air_temperature_max
FROM observation_conditions
GROUP BY present_weather_condition
