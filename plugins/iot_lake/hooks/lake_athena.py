"""AthenaSQLHook configured from the lake settings (workgroup, results, database).

The stock hook reads its staging directory and workgroup from an ``athena`` connection;
here they come from :func:`iot_lake.config.settings`, so one ``aws_default`` connection
(credentials, region) is all the `aws` backend needs.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.athena_sql import AthenaSQLHook
from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

from iot_lake import config
from iot_lake.config import LakeSettings


class LakeAthenaSQLHook(AthenaSQLHook):
    """Athena through pyathena, in the lake's workgroup, results under ``query_results``."""

    def __init__(self, *args: Any, settings: LakeSettings | None = None, **kwargs: Any) -> None:
        self.settings = settings or config.settings()
        kwargs.setdefault("aws_conn_id", self.settings.aws_conn_id)
        kwargs.setdefault("region_name", self.settings.region)
        super().__init__(*args, **kwargs)

    @cached_property
    def conn_config(self) -> AwsConnectionWrapper:
        try:
            connection = self.get_connection(self.aws_conn_id) if self.aws_conn_id else None
        except Exception:  # no connection: boto3's default credential chain
            connection = None
        return AwsConnectionWrapper(
            conn=connection,
            region_name=self._region_name,
            botocore_config=self._config,
            verify=self._verify,
        )

    def _get_conn_params(self) -> dict[str, str | None]:
        return {
            "driver": "rest",
            "schema_name": self.schema or self.settings.curated_database,
            "region_name": self.conn.region_name or self.settings.region,
            "aws_domain": "amazonaws.com",
        }

    def get_conn(self) -> Any:
        import pyathena

        params = self._get_conn_params()
        return pyathena.connect(
            schema_name=params["schema_name"],
            region_name=params["region_name"],
            session=self.get_session(region_name=params["region_name"]),
            s3_staging_dir=self.settings.uri("query_results"),
            work_group=self.settings.athena_workgroup,
        )

    def _run_command(self, cur: Any, sql_statement: str, parameters: Any) -> None:
        """Run one check query; a task killed or timed out while it waits stops the query.

        pyathena polls in the task. Airflow turns a kill (SIGTERM) and an
        ``execution_timeout`` into an exception raised inside that wait, so the query is
        stopped here (``StopQueryExecution``) before the error propagates.
        """
        try:
            super()._run_command(cur, sql_statement, parameters)
        except BaseException:
            query_id = getattr(cur, "query_id", None)
            if query_id:
                from iot_lake.engine import stop_query

                stop_query(query_id, self.settings)
            raise

    @property
    def schema(self) -> str | None:
        return getattr(self, "_lake_schema", None)

    @schema.setter
    def schema(self, value: str | None) -> None:
        self._lake_schema = value
