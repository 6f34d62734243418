-- Records of the staged (not yet published) partition dt = {{ ds }} of weather_rejects.
SELECT count(*) AS reject_count
FROM {{ lake.staging_database }}.weather_rejects
WHERE dt = '{{ ds }}'
