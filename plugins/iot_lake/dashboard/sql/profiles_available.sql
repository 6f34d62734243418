-- Which tables have a column profile for which days (the profiles page's pickers).
SELECT DISTINCT database_name, table_name, dt
FROM {{ params.database }}.column_profiles
ORDER BY dt DESC, database_name, table_name
