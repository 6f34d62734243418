-- Coffees per machine and in total on a range of days (DuckDB).
SELECT machine_id, count(*) AS coffees, count(*) FILTER (WHERE has_face) AS faces
FROM iot_lake.coffees
WHERE dt BETWEEN $start AND $end
GROUP BY ROLLUP (machine_id)
ORDER BY machine_id NULLS LAST
