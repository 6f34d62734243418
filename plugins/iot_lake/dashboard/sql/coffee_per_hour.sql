-- Coffees per hour of the day over a range of days (the coffee web app's main chart).
SELECT
    hour(coffee_hour) AS hour_of_day,
    count(*) AS coffees
FROM {{ params.database }}.{{ params.table }}
WHERE dt BETWEEN '{{ params.start }}' AND '{{ params.end }}'
GROUP BY hour(coffee_hour)
ORDER BY hour_of_day
