-- Rows and distinct observations of the staged (not yet published) partition dt = {{ ds }}
-- of weather_observations.
SELECT
    count(*) AS row_count,
    count(DISTINCT concat(weather_station, '|', CAST(observed_at AS varchar))) AS observation_count
FROM {{ lake.staging_database }}.weather_observations
WHERE dt = '{{ ds }}'
