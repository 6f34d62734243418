-- Air temperature and precipitation per station for observation day dt = {{ ds }}: one
-- row per station. Counted over distinct observations, not over the unnested rows (an
-- observation with three cloud layers must weigh as much as one with none).
--
-- precipitation_mm: the day's liquid precipitation from the ISD AA groups of the day's
-- observations (weather_observations.liquid_precip; docs/weather_stations.md, "Daily
-- precipitation"). A group counts when its period is 1, 6 or 24 h, its depth is known or
-- it is a trace (condition 2 = 0 mm), its condition is not 1 (measurement impossible or
-- inaccurate) and its quality is not erroneous (3/7). Condition 3 is not excluded: in the
-- ISD data it marks every wet SYNOP amount and the specials' partial amounts, which agree
-- with the METAR reports of the same period. Every report counts on the day it was made,
-- so no period counts on two days. The first rule that has a report gives the total:
--   1. the day's latest 24-hour report;
--   2. else the 6-hour reports ending 0, 6, 12 and 18 h before the day's latest one
--      (one series that tiles the day; SYNOP at 00/06/12/18, METAR at hh:51 ...);
--   3. else the 1-hour reports: per clock hour the largest (a special report made
--      between two routine ones holds part of the routine report's hour), summed.
-- NULL when the station reported no usable group that day. Depths are summed as whole
-- tenths of a millimetre (exact in any order: reruns give equal totals).
WITH observations AS (
    SELECT DISTINCT weather_station, observed_at, air_temperature
    FROM {{ lake.curated_database }}.weather_observations
    WHERE dt = '{{ ds }}'
),

temperatures AS (
    SELECT
        weather_station,
        count(*) AS observation_count,
        count(air_temperature) AS air_temperature_count,
        min(air_temperature) AS air_temperature_min,
        -- a sum of whole tenths of a degree is exact in any order, so reruns give equal
        -- averages (a plain avg() over parallel partial sums may differ in the last bit)
        round(sum(round(air_temperature * 10)) / count(air_temperature) / 10, 2)
            AS air_temperature_avg,
        max(air_temperature) AS air_temperature_max
    FROM observations
    GROUP BY weather_station
),

observation_precipitation AS (
    SELECT DISTINCT weather_station, observed_at, liquid_precip
    FROM {{ lake.curated_database }}.weather_observations
    WHERE dt = '{{ ds }}'
),

reports AS (
    SELECT
        o.weather_station,
        o.observed_at,
        p.hours,
        CAST(round(coalesce(p.depth, 0.0) * 10) AS bigint) AS depth_tenths
    FROM observation_precipitation AS o
    CROSS JOIN UNNEST(o.liquid_precip) AS p (hours, depth, condition, quality)
    WHERE p.hours IN (1, 6, 24)
        AND (p.depth IS NOT NULL OR p.condition = '2')
        AND coalesce(p.condition, '9') <> '1'
        AND coalesce(p.quality, '9') NOT IN ('3', '7')
),

day_reports AS (
    SELECT
        weather_station,
        depth_tenths,
        row_number() OVER (
            PARTITION BY weather_station ORDER BY observed_at DESC, depth_tenths DESC
        ) AS recency
    FROM reports
    WHERE hours = 24
),

six_hour_reports AS (
    SELECT
        weather_station,
        observed_at,
        max(depth_tenths) AS depth_tenths,
        max(observed_at) OVER (PARTITION BY weather_station) AS last_observed_at
    FROM reports
    WHERE hours = 6
    GROUP BY weather_station, observed_at
),

six_hour_totals AS (
    SELECT weather_station, sum(depth_tenths) AS depth_tenths
    FROM six_hour_reports
    WHERE date_diff('minute', observed_at, last_observed_at) % 360 = 0
    GROUP BY weather_station
),

hour_reports AS (
    SELECT weather_station, max(depth_tenths) AS depth_tenths
    FROM reports
    WHERE hours = 1
    GROUP BY weather_station, date_trunc('hour', observed_at)
),

hour_totals AS (
    SELECT weather_station, sum(depth_tenths) AS depth_tenths
    FROM hour_reports
    GROUP BY weather_station
)

SELECT
    t.weather_station,
    t.observation_count,
    t.air_temperature_count,
    t.air_temperature_min,
    t.air_temperature_avg,
    t.air_temperature_max,
    CAST(coalesce(d.depth_tenths, s.depth_tenths, h.depth_tenths) AS double) / 10
        AS precipitation_mm
FROM temperatures AS t
LEFT JOIN day_reports AS d ON d.weather_station = t.weather_station AND d.recency = 1
LEFT JOIN six_hour_totals AS s ON s.weather_station = t.weather_station
LEFT JOIN hour_totals AS h ON h.weather_station = t.weather_station
