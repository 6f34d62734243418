"""The lake's SQL, before any engine runs it: rendering, Athena -> DuckDB, Trino's answers.

- :mod:`~iot_lake.sql.render`: Jinja rendering of SQL files and text, the ``lake`` macros.
- :mod:`~iot_lake.sql.transpile`: one Athena statement parsed and rewritten for DuckDB.
- :mod:`~iot_lake.sql.as_trino`, :mod:`~iot_lake.sql.trino_json`: where DuckDB's answers
  differ from Trino's, the local engine answers as Trino does.
"""
