-- Records of run day dt = {{ ds }} in weather_rejects.
SELECT count(*) AS reject_count
FROM {{ lake.curated_database }}.weather_rejects
WHERE dt = '{{ ds }}'
