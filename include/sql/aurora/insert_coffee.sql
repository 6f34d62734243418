-- One button press, written by the coffee machine (MySQL dialect, DB-API parameters).
INSERT INTO coffees (
    machine_id, photo_url, coffee_hour,
    has_face, has_face_confidence,
    smile, smile_confidence,
    beard, beard_confidence,
    mustache, mustache_confidence,
    glasses, glasses_confidence,
    created_at
) VALUES (
    %(machine_id)s, %(photo_url)s, %(coffee_hour)s,
    %(has_face)s, %(has_face_confidence)s,
    %(smile)s, %(smile_confidence)s,
    %(beard)s, %(beard_confidence)s,
    %(mustache)s, %(mustache_confidence)s,
    %(glasses)s, %(glasses_confidence)s,
    UTC_TIMESTAMP()
)
