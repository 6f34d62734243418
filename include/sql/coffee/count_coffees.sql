-- Rows of one day of the curated coffees table and of its rejects, for the reconciliation
-- against MySQL (exported + rejected = source rows). The audit counts the staged day
-- (default: {{ lake.staging_database }}); params.database names another database.
{%- set database = params.get('database') or lake.staging_database %}
SELECT
    (SELECT COUNT(*) FROM {{ database }}.coffees WHERE dt = '{{ ds }}') AS lake_rows,
    (SELECT COUNT(*) FROM {{ database }}.coffee_rejects WHERE dt = '{{ ds }}') AS rejected_rows
