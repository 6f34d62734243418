-- One row per button press on a connected coffee machine (MySQL dialect: Aurora MySQL 3
-- and MariaDB >= 10.6). Idempotent: the setup path runs it on every deploy.
-- Face attributes are TINYINT(1): 1 = yes, 0 = no, NULL = the analyser could not judge
-- (the local OpenCV analyser never judges beard or mustache). Confidences are 0..100
-- as Rekognition reports them, NULL when the attribute is not judged.
-- photo_key makes the photo handler's insert idempotent (S3 delivers events at least
-- once); a unique index on photo_url itself would exceed InnoDB's 3072-byte key limit.
CREATE TABLE IF NOT EXISTS coffees (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    machine_id VARCHAR(64) NOT NULL,
    photo_url VARCHAR(1024) NULL,
    coffee_hour DATETIME NOT NULL COMMENT 'when the button was pressed (UTC)',
    has_face TINYINT(1) NULL,
    has_face_confidence FLOAT NULL,
    smile TINYINT(1) NULL,
    smile_confidence FLOAT NULL,
    beard TINYINT(1) NULL,
    beard_confidence FLOAT NULL,
    mustache TINYINT(1) NULL,
    mustache_confidence FLOAT NULL,
    glasses TINYINT(1) NULL,
    glasses_confidence FLOAT NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'row insert time (UTC)',
    -- last, where ALTER TABLE ... ADD COLUMN puts it on a table made before it existed
    photo_key CHAR(64) NULL UNIQUE COMMENT 'SHA-256 (hex) of <bucket>/<key> of the photo: one row per photo',
    PRIMARY KEY (id),
    INDEX idx_coffees_coffee_hour (coffee_hour)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4
