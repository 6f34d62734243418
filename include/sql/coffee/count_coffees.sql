-- Rows of one day's partition of the curated coffees table, for the reconciliation
-- against MySQL (exported + rejected = source rows).
SELECT COUNT(*) AS lake_rows
FROM {{ lake.curated_database }}.coffees
WHERE dt = '{{ ds }}'
