-- The raw weather records of run day dt = {{ ds }} that cannot be published, one row each
-- with every reason ('; '-separated): not JSON, not an object, missing/bad station or
-- time, undated, time off its folder's day, a value of the wrong type, NaN/±Infinity, a
-- value outside its physical bounds (plugins/iot_lake/weather/bounds.py). Same reading
-- and typing as flatten_observations.sql (typed_records.sql.j2). Neither Athena nor the
-- local engine numbers the lines of an object: line_number is null, the object key and
-- the raw text identify the record. rejected_at is null so reruns write identical rows.
WITH
{% include "weather/typed_records.sql.j2" %}

SELECT
    c.source,
    CAST(NULL AS bigint) AS line_number,
    c.reason,
    c.raw,
    CAST(NULL AS timestamp) AS rejected_at
FROM classified AS c
WHERE c.reason IS NOT NULL
