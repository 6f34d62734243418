-- What the flatten of run day dt = {{ ds }} does with the raw lines it reads: how many it
-- read, how many are rejected, how many are later copies of an observation (removed)
-- and how many distinct observations remain. The reconciliation compares these with a
-- count of the raw objects themselves and with the written partitions.
WITH
{% include "weather/typed_records.sql.j2" %}

SELECT
    (SELECT count(*) FROM classified) AS lines_read,
    (SELECT count(*) FROM classified WHERE reason IS NOT NULL) AS rejected,
    (SELECT count(*) FROM ranked WHERE copy_number > 1) AS duplicates,
    (SELECT count(*) FROM ranked WHERE copy_number = 1) AS observations
