-- Column profile of one table for one day (the numbers Glue DataBrew's profile shows).
-- One SELECT per column, glued with UNION ALL; params.columns comes from the catalog:
-- name, type, and the flags numeric / orderable / comparable decided by profiles.py.
{% for column in params.columns %}
{% if not loop.first %}UNION ALL
{% endif %}SELECT
    '{{ column.name }}' AS column_name,
    '{{ column.type }}' AS column_type,
    count(*) AS row_count,
    count(*) - count("{{ column.name }}") AS null_count,
    {% if column.comparable %}count(DISTINCT "{{ column.name }}"){% else %}CAST(NULL AS BIGINT){% endif %} AS distinct_count,
    {% if column.orderable %}CAST(min("{{ column.name }}") AS VARCHAR){% else %}CAST(NULL AS VARCHAR){% endif %} AS min_value,
    {% if column.orderable %}CAST(max("{{ column.name }}") AS VARCHAR){% else %}CAST(NULL AS VARCHAR){% endif %} AS max_value,
    {% if column.numeric or column.boolean %}avg(CAST("{{ column.name }}" AS DOUBLE)){% else %}CAST(NULL AS DOUBLE){% endif %} AS mean,
    {% if column.numeric %}stddev_samp(CAST("{{ column.name }}" AS DOUBLE)){% else %}CAST(NULL AS DOUBLE){% endif %} AS stddev,
    {% if column.numeric %}approx_percentile(CAST("{{ column.name }}" AS DOUBLE), 0.25){% else %}CAST(NULL AS DOUBLE){% endif %} AS p25,
    {% if column.numeric %}approx_percentile(CAST("{{ column.name }}" AS DOUBLE), 0.5){% else %}CAST(NULL AS DOUBLE){% endif %} AS p50,
    {% if column.numeric %}approx_percentile(CAST("{{ column.name }}" AS DOUBLE), 0.75){% else %}CAST(NULL AS DOUBLE){% endif %} AS p75
FROM {{ params.database }}.{{ params.table }}
WHERE dt = '{{ ds }}'
{% endfor %}
