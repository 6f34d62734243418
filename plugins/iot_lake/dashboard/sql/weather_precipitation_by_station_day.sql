-- Daily precipitation per station (mm; null = no report), for the weather page's bars.
SELECT
    weather_station,
    dt,
    precipitation_mm
FROM {{ params.database }}.weather_stats_by_station_day
WHERE dt BETWEEN '{{ params.start }}' AND '{{ params.end }}'
ORDER BY dt, weather_station
