-- One row per coffee machine: how busy it was and when, over a range of days.
SELECT
    machine_id,
    count(*) AS coffees,
    CAST(min(coffee_hour) AS VARCHAR) AS first_coffee,
    CAST(max(coffee_hour) AS VARCHAR) AS last_coffee,
    count_if(smile) AS smiles,
    count(smile) AS smile_known
FROM {{ params.database }}.{{ params.table }}
WHERE dt BETWEEN '{{ params.start }}' AND '{{ params.end }}'
GROUP BY machine_id
ORDER BY coffees DESC, machine_id
