-- Rows, nulls and distincts of a few coffees columns on one day (DuckDB), for the profile page.
SELECT
    count(*) AS row_count,
    count(*) - count(smile) AS smile_nulls,
    count(*) - count(beard) AS beard_nulls,
    count(DISTINCT machine_id) AS machine_distinct,
    min(id) AS id_min,
    max(id) AS id_max
FROM iot_lake.coffees
WHERE dt = $day
