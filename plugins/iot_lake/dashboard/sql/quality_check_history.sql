-- Every recorded check outcome in a range of days, newest first.
SELECT
    dt,
    database_name,
    table_name,
    check_name,
    column_name,
    passed,
    observed_value,
    expected,
    dag_id,
    task_id,
    run_id,
    try_number,
    CAST(checked_at AS VARCHAR) AS checked_at
FROM {{ params.database }}.quality_results
WHERE dt BETWEEN '{{ params.start }}' AND '{{ params.end }}'
{% if params.table %}    AND table_name = '{{ params.table }}'
{% endif %}{% if params.only_failed %}    AND NOT passed
{% endif %}ORDER BY dt DESC, checked_at DESC, table_name, check_name
LIMIT {{ params.limit }}
