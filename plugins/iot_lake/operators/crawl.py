"""Crawl the raw weather objects into the catalog: Glue crawler on `aws`, local crawler here.

On `aws` the crawler deployed from ``include/glue/crawler_raw_weather.json`` is started
through the Amazon provider's ``GlueCrawlerHook`` and the task defers on its
``GlueCrawlerCompleteTrigger`` (no worker slot held while Glue works); on `local`
:func:`iot_lake.crawler.crawl_raw` does the same job in-process.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from iot_lake import config


class CrawlerNotDeployedError(RuntimeError):
    """The Glue crawler does not exist; provisioning (lake_setup) creates it."""


class LakeCrawlOperator(BaseOperator):
    """Bring the raw table and its hour partitions up to date with the raw prefix."""

    ui_color = "#d5e8f7"

    def __init__(self, *, poll_interval: int = 15, deferrable: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    def execute(self, context: Any) -> dict[str, Any] | str:
        lake = config.settings()
        if lake.is_local:
            from iot_lake.crawler import crawl_raw

            return crawl_raw(lake).as_dict()
        return self._run_glue_crawler(lake)

    def _run_glue_crawler(self, lake: config.LakeSettings) -> str:
        from airflow.providers.amazon.aws.hooks.glue_crawler import GlueCrawlerHook
        from airflow.providers.amazon.aws.triggers.glue_crawler import GlueCrawlerCompleteTrigger

        hook = GlueCrawlerHook(aws_conn_id=lake.aws_conn_id, region_name=lake.region)
        if not hook.has_crawler(lake.crawler_name):
            raise CrawlerNotDeployedError(
                f"Glue crawler {lake.crawler_name!r} does not exist: deploy it from "
                "include/glue/crawler_raw_weather.json (the lake_setup DAG does) or set "
                "IOT_LAKE_CRAWLER_NAME"
            )
        client = hook.glue_client
        try:
            client.start_crawler(Name=lake.crawler_name)
        except client.exceptions.CrawlerRunningException:
            # A retry after a lost response: wait for the run that is already going.
            self.log.warning("crawler %s is already running; waiting for it", lake.crawler_name)
        if self.deferrable:
            self.defer(
                trigger=GlueCrawlerCompleteTrigger(
                    crawler_name=lake.crawler_name,
                    waiter_delay=self.poll_interval,
                    aws_conn_id=lake.aws_conn_id,
                    region_name=lake.region,
                ),
                method_name="execute_complete",
            )
        hook.wait_for_crawler_completion(lake.crawler_name, poll_interval=self.poll_interval)
        return lake.crawler_name

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        if not event or event.get("status") != "success":
            raise RuntimeError(f"Glue crawler run failed: {event}")
        return config.settings().crawler_name
