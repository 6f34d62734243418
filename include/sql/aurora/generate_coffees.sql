-- Synthetic presses for the export benchmark (MariaDB only: the SEQUENCE engine's
-- seq_* tables; up to 8M rows). One day from %(day)s, %(rows)s rows, 8 machines;
-- about 1 in 1000 rows has a NULL photo_url and 1 in 2000 a plain http:// one, which
-- the export must reject and count.
INSERT INTO coffees (
    machine_id, photo_url, coffee_hour,
    has_face, has_face_confidence, smile, smile_confidence,
    beard, beard_confidence, mustache, mustache_confidence,
    glasses, glasses_confidence, created_at
)
SELECT
    CONCAT('coffee-machine-', LPAD(n MOD 8, 2, '0')),
    CASE
        WHEN n MOD 1000 = 7 THEN NULL
        WHEN n MOD 2000 = 11 THEN CONCAT('http://example.com/photos/', n, '.jpg')
        ELSE CONCAT(
            'https://iot-lake-photos.s3.us-east-1.amazonaws.com/photos/coffee-machine-',
            LPAD(n MOD 8, 2, '0'), '/', DATE(%(day)s), '/', LPAD(n, 9, '0'), '.jpg'
        )
    END,
    TIMESTAMP(%(day)s) + INTERVAL (n * 86399 DIV %(rows)s) SECOND,
    n MOD 10 > 0,
    50 + (n * 7919 MOD 5000) / 100,
    IF(n MOD 10 > 0, n MOD 3 = 0, NULL),
    IF(n MOD 10 > 0, 50 + (n * 104729 MOD 5000) / 100, NULL),
    IF(n MOD 10 > 0, n MOD 5 = 0, NULL),
    IF(n MOD 10 > 0, 50 + (n * 1299709 MOD 5000) / 100, NULL),
    IF(n MOD 10 > 0, n MOD 7 = 0, NULL),
    IF(n MOD 10 > 0, 50 + (n * 15485863 MOD 5000) / 100, NULL),
    IF(n MOD 10 > 0, n MOD 4 = 0, NULL),
    IF(n MOD 10 > 0, 50 + (n * 32452843 MOD 5000) / 100, NULL),
    TIMESTAMP(%(day)s) + INTERVAL (n * 86399 DIV %(rows)s) SECOND + INTERVAL 1 SECOND
FROM (
    SELECT a.seq * 1000 + b.seq AS n
    FROM seq_0_to_7999 AS a, seq_0_to_999 AS b
    WHERE a.seq <= %(rows)s DIV 1000
) AS numbers
WHERE n < %(rows)s
