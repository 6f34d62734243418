-- Rows of day dt = {{ ds }} of table {{ params.table }}: the staged version under audit
-- and the published version a publish would replace (iot_lake.shrink judges the two).
-- A day never published counts 0 published rows.
SELECT
    s.staged_rows,
    p.published_rows
FROM (
    SELECT count(*) AS staged_rows
    FROM {{ lake.staging_database }}.{{ params.table }}
    WHERE dt = '{{ ds }}'
) AS s
CROSS JOIN (
    SELECT count(*) AS published_rows
    FROM {{ lake.curated_database }}.{{ params.table }}
    WHERE dt = '{{ ds }}'
) AS p
