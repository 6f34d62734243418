-- One observation day (dt = {{ ds }}) of raw weather messages as flat rows.
-- Reads the day's one typed pass (typed_records.sql, staged as partition dt = {{ ds }} of
-- weather_typed_records: folder day={{ ds }} and the day=undated objects that arrived on
-- {{ ds }}, every record typed once with try/try_cast, never failing the query; what
-- cannot be typed goes to weather_rejects by flatten_rejects.sql, with its reason).
-- Duplicates keep the earliest arrival, then the first object key, then the first record
-- text: a total order that does not depend on scheduling, so the same raw objects always
-- publish the same rows. Copies are rare, so only the keys that repeat (found on two
-- narrow columns) are ordered; every other record is its observation's one copy.
-- LEFT JOIN UNNEST ... ON TRUE keeps an observation whose array is
-- empty (CROSS JOIN UNNEST would drop it). One row per observation x sky cover layer x
-- present weather group; liquid_precip and extreme_temperature stay nested arrays. The
-- UNNEST aliases list the fields of the row types the arrays were cast to by name (same
-- order, from the same list). The partition key dt is not a column of the files.
-- The day's publishable records are read where each step needs them, not through one
-- WITH query: DuckDB keeps a WITH query named more than once in memory whole (2.3 GB at
-- 1M records), where Trino inlines it.
WITH repeated AS (
    SELECT weather_station, observed_at
    FROM {{ lake.staging_database }}.weather_typed_records
    WHERE dt = '{{ ds }}'
        AND reason IS NULL
    GROUP BY weather_station, observed_at
    HAVING count(*) > 1
),

first_copies AS (
    SELECT *
    FROM (
        SELECT
            p.*,
            row_number() OVER (
                PARTITION BY p.weather_station, p.observed_at
                ORDER BY p.arrived_at ASC NULLS LAST, p.source ASC, p.raw ASC
            ) AS copy_number
        FROM {{ lake.staging_database }}.weather_typed_records AS p
        INNER JOIN repeated AS r
            ON r.weather_station = p.weather_station AND r.observed_at = p.observed_at
        WHERE p.dt = '{{ ds }}'
            AND p.reason IS NULL
    ) AS ranked
    WHERE copy_number = 1
),

observations AS (
{%- set columns -%}
        weather_station,
        observed_at,
        latitude,
        longitude,
        elevation,
{%- for m in params.measures %}
        {{ m.column }},
        {{ m.column }}_quality,
{%- endfor %}
        sky_cover_condition,
        weather_condition,
        liquid_precip,
        extreme_temperature
{%- endset %}
    SELECT
{{ columns }}
    FROM {{ lake.staging_database }}.weather_typed_records AS p
    WHERE p.dt = '{{ ds }}'
        AND p.reason IS NULL
        AND NOT EXISTS (
            SELECT 1
            FROM repeated AS r
            WHERE r.weather_station = p.weather_station AND r.observed_at = p.observed_at
        )
    UNION ALL
    SELECT
{{ columns }}
    FROM first_copies
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
