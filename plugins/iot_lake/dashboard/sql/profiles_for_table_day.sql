-- The column profile of one table for one day, in the table's column order.
SELECT
    column_position,
    column_name,
    column_type,
    row_count,
    null_count,
    distinct_count,
    min_value,
    max_value,
    mean,
    stddev,
    p25,
    p50,
    p75,
    top_values,
    run_id,
    CAST(profiled_at AS VARCHAR) AS profiled_at
FROM {{ params.database }}.column_profiles
WHERE dt = '{{ params.day }}'
    AND database_name = '{{ params.profiled_database }}'
    AND table_name = '{{ params.profiled_table }}'
ORDER BY column_position
