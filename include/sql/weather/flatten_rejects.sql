-- The raw weather records of run day dt = {{ ds }} that cannot be published, one row each
-- with every reason ('; '-separated): not JSON, not an object, missing/bad station or
-- time, undated, time off its folder's day, a value of the wrong type, NaN/±Infinity, a
-- value outside its physical bounds (plugins/iot_lake/weather/bounds.py). Read from the
-- day's one typed pass (typed_records.sql, staged in weather_typed_records). Neither
-- Athena nor the local engine numbers the lines of an object: line_number is null, the
-- object key and the raw text identify the record. rejected_at is null so reruns write
-- identical rows.
SELECT
    t.source,
    CAST(NULL AS bigint) AS line_number,
    t.reason,
    t.raw,
    CAST(NULL AS timestamp) AS rejected_at
FROM {{ lake.staging_database }}.weather_typed_records AS t
WHERE t.dt = '{{ ds }}'
    AND t.reason IS NOT NULL
