-- Checks run and failed per day and table, for the quality page's trend chart.
SELECT
    dt,
    table_name,
    count(*) AS checks,
    count_if(NOT passed) AS failed
FROM {{ params.database }}.quality_results
WHERE dt BETWEEN '{{ params.start }}' AND '{{ params.end }}'
GROUP BY dt, table_name
ORDER BY dt, table_name
