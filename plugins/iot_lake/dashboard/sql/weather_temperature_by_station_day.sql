-- Daily min/avg/max air temperature per station, for the weather page's line charts.
SELECT
    weather_station,
    dt,
    air_temperature_min AS min_temperature_c,
    air_temperature_avg AS avg_temperature_c,
    air_temperature_max AS max_temperature_c,
    observation_count,
    air_temperature_count AS temperature_count
FROM {{ params.database }}.weather_stats_by_station_day
WHERE dt BETWEEN '{{ params.start }}' AND '{{ params.end }}'
ORDER BY weather_station, dt
