-- Rows and distinct observations of partition dt = {{ ds }} of weather_observations.
SELECT
    count(*) AS row_count,
    count(DISTINCT concat(weather_station, '|', CAST(observed_at AS varchar))) AS observation_count
FROM {{ lake.curated_database }}.weather_observations
WHERE dt = '{{ ds }}'
