-- One observation day (dt = {{ ds }}) of raw weather messages as flat rows.
-- Reads the day's one typed pass (typed_records.sql, staged as partition dt = {{ ds }} of
-- weather_typed_records: folder day={{ ds }} and the day=undated objects that arrived on
-- {{ ds }}, every record typed once with try/try_cast, never failing the query; what
-- cannot be typed goes to weather_rejects by flatten_rejects.sql, with its reason).
-- Duplicates keep the earliest arrival (then object key, then record text): copy 1 only,
-- before the arrays are unnested. LEFT JOIN UNNEST ... ON TRUE keeps an observation whose array is
-- empty (CROSS JOIN UNNEST would drop it). One row per observation x sky cover layer x
-- present weather group; liquid_precip and extreme_temperature stay nested arrays. The
-- UNNEST aliases list the fields of the row types the arrays were cast to by name (same
-- order, from the same list). The partition key dt is not a column of the files.
WITH observations AS (
    SELECT *
    FROM {{ lake.staging_database }}.weather_typed_records
    WHERE dt = '{{ ds }}'
        AND reason IS NULL
        AND copy_number = 1
)

SELECT
    o.weather_station,
    o.observed_at,
    o.latitude,
    o.longitude,
    o.elevation,
    o.air_temperature,
    o.air_temperature_quality,
    o.dew_point,
    o.dew_point_quality,
    o.wind_speed,
    o.wind_speed_quality,
    o.wind_direction,
    o.wind_direction_quality,
    o.sea_level_pressure,
    o.sea_level_pressure_quality,
    o.sky_ceiling,
    o.sky_ceiling_quality,
    o.visibility_distance,
    o.visibility_distance_quality,
    sky.cloud_type,
    sky.coverage,
    sky.base_height,
    condition.present_weather_condition,
    condition.code AS present_weather_code,
    condition.source AS present_weather_source,
    o.liquid_precip,
    o.extreme_temperature
FROM observations AS o
LEFT JOIN UNNEST(o.sky_cover_condition) AS sky (coverage, base_height, cloud_type) ON TRUE
LEFT JOIN UNNEST(o.weather_condition) AS condition (present_weather_condition, code, source) ON TRUE
