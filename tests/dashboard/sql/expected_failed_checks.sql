-- Failed checks, by day and check (DuckDB).
SELECT dt, check_name, observed_value
FROM iot_lake.quality_results
WHERE NOT passed
ORDER BY dt, check_name
