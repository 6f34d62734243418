-- How many coffee drinkers smiled, wore glasses or a beard: "known" counts exclude NULL
-- (the local detector cannot judge beards, so those stay unknown rather than "no").
SELECT
    count(*) AS coffees,
    count_if(has_face) AS faces,
    count_if(smile) AS smiles,
    count(smile) AS smile_known,
    count_if(glasses) AS glasses,
    count(glasses) AS glasses_known,
    count_if(beard) AS beards,
    count(beard) AS beard_known,
    count_if(mustache) AS mustaches,
    count(mustache) AS mustache_known
FROM {{ params.database }}.{{ params.table }}
WHERE dt BETWEEN '{{ params.start }}' AND '{{ params.end }}'
