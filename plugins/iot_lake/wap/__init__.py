"""Write -> audit -> publish of a day's partitions: the lake's one write path.

A run writes a new *version* of a partition aside and registers it as the same partition
of the same table in the staging database (``<curated>_staging``, e.g.
``iot_lake_staging.weather_observations``). Every check reads it there. Only a passing
audit publishes it; until then readers of the curated table see the previous version.

- :mod:`iot_lake.wap.staging`: where a version is written, and its registration.
- :mod:`iot_lake.wap.steps`: the one write loop: steps of ``{table: SELECT}`` staged in
  order, then a one-row summary (in the task, or one Athena query at a time for a
  deferring operator).
- :mod:`iot_lake.wap.publish`: the one publish: outputs in order, then the intermediates
  retired, then old versions expired.
- :mod:`iot_lake.wap.superseded`: the ledger of replaced versions, and their expiry.

Where the versions live (``<table>`` = the table's location, ``D`` = ``dt=YYYY-MM-DD``):

============  ===================================  ==========================================
table in      staged version                       publish
============  ===================================  ==========================================
a directory   ``<table>/_staging/D/run=<id>/``     directory swap into ``<table>/D/``; the
                                                   replaced directory moves to
                                                   ``<table>/_superseded/<id>/``
an object     ``<table>/D/run=<id>/`` (UNLOAD's    catalog partition swap (Glue on `aws`, the
store (S3)    fresh prefix on `aws`)               local catalog on `local`): the partition
                                                   points at the staged prefix; the replaced
                                                   prefix stays where it is
============  ===================================  ==========================================

An object store has no rename, so the `local` backend on an S3 endpoint (the compose
file's MinIO, Celery workers that share nothing but S3) publishes as `aws` does: the
choice is the store's (:func:`iot_lake.storage.in_directory_store`), not the backend's.

Names starting with ``_`` are invisible to Hive/Athena and to the local engine, and only
registered partition locations are read, so neither staged nor superseded versions reach
a reader of the curated table.

A replaced version is not deleted at once (a query planned on it may still be reading):
the publish leaves a ledger entry ``<table>/_superseded/<id>.json`` (location, time), and
:func:`iot_lake.wap.superseded.expire_superseded` (run by ``lake_setup`` and after every
publish) deletes versions older than ``superseded_grace_hours``. A staged version whose
audit failed stays where it is, still registered in the staging database, until the day
is staged again; then it is retired through the same ledger.
"""
