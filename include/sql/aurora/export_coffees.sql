-- One day of button presses for the lake export (MySQL dialect, DB-API parameters).
-- Streamed through a server-side cursor. No ORDER BY on purpose: when a day is a large
-- part of the table the optimiser scans it and would filesort the whole day before the
-- first row leaves the server (7 s of 11 s at 1M rows); a partition is a set of rows
-- and nothing downstream reads it in order.
SELECT
    id,
    machine_id,
    photo_url,
    coffee_hour,
    has_face,
    has_face_confidence,
    smile,
    smile_confidence,
    beard,
    beard_confidence,
    mustache,
    mustache_confidence,
    glasses,
    glasses_confidence,
    created_at
FROM coffees
WHERE coffee_hour >= %(start)s AND coffee_hour < %(end)s
