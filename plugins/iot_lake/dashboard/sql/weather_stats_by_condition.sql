-- Temperature statistics per present weather condition over a range of days; the mean
-- is weighted by the observations that had a temperature, as the daily means were.
SELECT
    present_weather_condition,
    sum(observation_count) AS observation_count,
    max(station_count) AS max_station_count,
    min(air_temperature_min) AS min_temperature_c,
    sum(air_temperature_avg * air_temperature_count)
        / nullif(sum(CASE WHEN air_temperature_avg IS NOT NULL THEN air_temperature_count END), 0)
        AS avg_temperature_c,
    max(air_temperature_max) AS max_temperature_c,
    count(DISTINCT dt) AS days
FROM {{ params.database }}.weather_stats_by_condition_day
WHERE dt BETWEEN '{{ params.start }}' AND '{{ params.end }}'
GROUP BY present_weather_condition
ORDER BY observation_count DESC, present_weather_condition
