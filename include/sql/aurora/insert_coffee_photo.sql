-- One photo analysed by the coffee photo handler (the Lambda on aws, the local notifier
-- on local), MySQL dialect. Named parameters with a colon prefix, the RDS Data API's form;
-- the local writer binds the same names through MySQLdb. Idempotent: S3 delivers an
-- event at least once, and a second delivery of one photo hits the unique photo_key and
-- changes nothing (no INSERT IGNORE: it would also silence truncations and bad values).
INSERT INTO coffees (
    machine_id, photo_url, photo_key, coffee_hour,
    has_face, has_face_confidence,
    smile, smile_confidence,
    beard, beard_confidence,
    mustache, mustache_confidence,
    glasses, glasses_confidence,
    created_at
) VALUES (
    :machine_id, :photo_url, :photo_key, :coffee_hour,
    :has_face, :has_face_confidence,
    :smile, :smile_confidence,
    :beard, :beard_confidence,
    :mustache, :mustache_confidence,
    :glasses, :glasses_confidence,
    UTC_TIMESTAMP()
)
ON DUPLICATE KEY UPDATE id = id
