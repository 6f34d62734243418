-- One observation day (dt = {{ ds }}) of raw weather messages as flat rows.
-- Reads the arrival hours that can hold day D (D - late_days .. D + late_days, as Firehose
-- partitions by arrival time) and keeps observations whose own time falls on day D.
-- Duplicates from at-least-once delivery are removed per (weather_station, observed_at)
-- before the arrays are unnested. LEFT JOIN UNNEST ... ON TRUE keeps an observation whose
-- array is empty (CROSS JOIN UNNEST would drop it). One row per observation x sky cover
-- layer x present weather group. Numbers are cast so the Parquet types always match the
-- table (Athena rejects a Parquet column whose type differs from the table's). The
-- partition key dt is not a column of the files.
WITH arrived AS (
    SELECT
        r.*,
        date_parse(r.time, '%Y-%m-%dT%H:%i:%sZ') AS observed_at,
        row_number() OVER (
            PARTITION BY r.weather_station, r.time
            ORDER BY r.partition_0, r.partition_1, r.partition_2, r.partition_3
        ) AS copy_number
    FROM {{ lake.raw_database }}.weather AS r
    WHERE concat(r.partition_0, '-', r.partition_1, '-', r.partition_2)
        BETWEEN date_format(date_add('day', -{{ params.get('late_days', 1) }}, DATE '{{ ds }}'), '%Y-%m-%d')
        AND date_format(date_add('day', {{ params.get('late_days', 1) }}, DATE '{{ ds }}'), '%Y-%m-%d')
),

observations AS (
    SELECT *
    FROM arrived
    WHERE copy_number = 1
        AND observed_at >= CAST(DATE '{{ ds }}' AS timestamp)
        AND observed_at < CAST(date_add('day', 1, DATE '{{ ds }}') AS timestamp)
)

SELECT
    o.weather_station,
    o.observed_at,
    CAST(o.latitude AS double) AS latitude,
    CAST(o.longitude AS double) AS longitude,
    CAST(o.elevation AS double) AS elevation,
    CAST(o.air_temperature.value AS double) AS air_temperature,
    o.air_temperature.quality AS air_temperature_quality,
    CAST(o.dew_point.value AS double) AS dew_point,
    o.dew_point.quality AS dew_point_quality,
    CAST(o.wind_speed.value AS double) AS wind_speed,
    o.wind_speed.quality AS wind_speed_quality,
    CAST(o.wind_direction.value AS double) AS wind_direction,
    o.wind_direction.quality AS wind_direction_quality,
    CAST(o.sea_level_pressure.value AS double) AS sea_level_pressure,
    o.sea_level_pressure.quality AS sea_level_pressure_quality,
    CAST(o.sky_ceiling.value AS double) AS sky_ceiling,
    o.sky_ceiling.quality AS sky_ceiling_quality,
    CAST(o.visibility_distance.value AS double) AS visibility_distance,
    o.visibility_distance.quality AS visibility_distance_quality,
    sky.cloud_type,
    sky.coverage,
    CAST(sky.base_height AS double) AS base_height,
    condition.present_weather_condition,
    condition.code AS present_weather_code,
    condition.source AS present_weather_source
FROM observations AS o
LEFT JOIN UNNEST(o.sky_cover_condition) AS sky (coverage, base_height, cloud_type) ON TRUE
LEFT JOIN UNNEST(o.weather_condition) AS condition (present_weather_condition, code, source) ON TRUE
