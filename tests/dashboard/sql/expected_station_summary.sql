-- Per station over a range: lowest min, mean weighted by temperature count, highest max (DuckDB).
SELECT
    weather_station,
    count(*) AS days,
    sum(observation_count) AS observations,
    min(air_temperature_min) AS min_c,
    sum(air_temperature_avg * air_temperature_count) / sum(air_temperature_count) AS avg_c,
    max(air_temperature_max) AS max_c
FROM iot_lake.weather_stats_by_station_day
WHERE dt BETWEEN $start AND $end
GROUP BY weather_station
ORDER BY weather_station
