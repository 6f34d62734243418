-- Source rows of one day, for the reconciliation check (MySQL dialect, DB-API parameters).
SELECT COUNT(*) AS source_rows
FROM coffees
WHERE coffee_hour >= %(start)s AND coffee_hour < %(end)s
