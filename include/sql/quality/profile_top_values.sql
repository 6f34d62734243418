-- The most frequent non-null values of each comparable column of one table for one day.
-- Values are compared as text so that one result shape serves every column type.
WITH value_counts AS (
{% for column in params.columns if column.comparable %}
    {% if not loop.first %}UNION ALL
    {% endif %}SELECT
        '{{ column.name }}' AS column_name,
        CAST("{{ column.name }}" AS VARCHAR) AS value,
        count(*) AS value_count
    FROM {{ params.database }}.{{ params.table }}
    WHERE dt = '{{ ds }}' AND "{{ column.name }}" IS NOT NULL
    GROUP BY CAST("{{ column.name }}" AS VARCHAR)
{% endfor %}
),
ranked AS (
    SELECT
        column_name,
        value,
        value_count,
        row_number() OVER (PARTITION BY column_name ORDER BY value_count DESC, value) AS value_rank
    FROM value_counts
)
SELECT column_name, value, value_count, value_rank
FROM ranked
WHERE value_rank <= {{ params.top_n }}
ORDER BY column_name, value_rank
