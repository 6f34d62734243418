-- Every row of the day's staged partition was pressed inside the day (UTC); true on an
-- empty day.
SELECT count_if(CAST(coffee_hour AS DATE) <> DATE '{{ ds }}') = 0
    AS coffee_hour_in_day
FROM {{ lake.staging_database }}.coffees
WHERE dt = '{{ ds }}'
