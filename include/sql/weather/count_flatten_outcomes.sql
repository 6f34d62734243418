-- What the flatten of run day dt = {{ ds }} did with the raw lines it read (from the day's
-- one typed pass, staged in weather_typed_records): how many it read, how many it
-- rejected, how many are later copies of an observation (removed) and how many distinct
-- observations remain. The reconciliation compares these with a count of the raw objects
-- themselves and with the staged partitions.
SELECT
    count(*) AS lines_read,
    count(CASE WHEN t.reason IS NOT NULL THEN 1 END) AS rejected,
    count(CASE WHEN t.copy_number > 1 THEN 1 END) AS duplicates,
    count(CASE WHEN t.copy_number = 1 THEN 1 END) AS observations
FROM {{ lake.staging_database }}.weather_typed_records AS t
WHERE t.dt = '{{ ds }}'
