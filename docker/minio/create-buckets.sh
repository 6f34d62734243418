#!/bin/sh
# Create the lake's buckets on MinIO (idempotent): run by the minio-init service.
set -eu
mc alias set lake "${MINIO_ENDPOINT:-http://minio:9000}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
for bucket in ${LAKE_BUCKETS:-iot-lake-raw iot-lake-curated iot-lake-photos iot-lake-athena-results iot-lake-catalog}; do
  mc mb --ignore-existing "lake/$bucket"
  # Same rule as include/s3/public_access_block.json on AWS: nothing is public.
  mc anonymous set none "lake/$bucket"
done
mc ls lake
