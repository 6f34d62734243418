"""Screenshots of the dashboard for the docs, from a real API server.

    uv run --frozen python -m tests.dashboard.screenshots docs/images
    uv run --frozen python -m tests.dashboard.screenshots docs/images --weather-days 3

Uses a fresh Airflow home and lake in a temporary directory.
Default: the fixture lake of the browser test. ``--weather-days N``: a real local run
instead for the weather side: synthetic raw station messages in the Firehose layout, the
``weather_lake`` DAG run day by day (``dag.test()``, with the plugin's listener recording
its checks), a profile of the flattened observations, and the cold-readings sink filled
by evaluating the project's own "cold" IoT rule on the same messages into a local
dynalite; coffees stay fixture rows (the coffee side needs MariaDB and the simulator).
``--from-demo``: no fixtures at all: the project's own Airflow home and lake as
``./lake demo`` left them (run it from ``scripts/env.sh``'s environment); the DAG run
screenshot then shows the demo's real runs.
``--serve`` keeps the server running for a look in a browser.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins"))  # the iot_lake package, as pytest's pythonpath

PAGES = ("weather", "coffee", "quality", "profiles", "incidents")
FIRST_WEATHER_DAY = date(2026, 11, 2)


def real_weather_run(days: int) -> tuple[list[dict], str]:
    """Raw messages -> weather_lake DAG runs; the messages and the last run's id."""
    from airflow.dag_processing.dagbag import DagBag

    from iot_lake import profiles
    from iot_lake.config import settings
    from iot_lake.weather import synthetic

    day_list = [(FIRST_WEATHER_DAY + timedelta(days=i)).isoformat() for i in range(days)]
    messages = [m for i, d in enumerate(day_list) for m in synthetic.hourly_messages(d, seed=i)]
    synthetic.write_raw(settings().uri("raw"), messages)
    dag = DagBag(dag_folder=str(ROOT / "dags" / "weather_lake.py")).get_dag("weather_lake")
    run_id = ""
    for day in day_list:
        run = dag.test(logical_date=datetime.fromisoformat(day).replace(tzinfo=UTC))
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        print(f"weather_lake {day}: {run.state} {states}", flush=True)
        run_id = run.run_id
    profiles.profile_day("weather_observations", day_list[-1], run_id=run_id)
    return messages, run_id


def fill_cold_readings(endpoint: str, messages: list[dict]) -> int:
    """What the "cold" rule would have put into DynamoDB for these messages."""
    from iot_lake.config import settings
    from simulators.iot_core.dynamodb import (
        DynamoDBTableWriter,
        dynamodb_client,
        dynamodb_resource,
        ensure_table,
    )
    from simulators.iot_core.rule_sql import MessageContext
    from simulators.iot_core.rules import load_rules

    table = settings().cold_readings_table
    ensure_table(dynamodb_client(endpoint=endpoint), table)
    rule = next(r for r in load_rules() if "dynamoDBv2" in r.actions[0])
    context = MessageContext(topic="sensor/weather")
    items = [i for m in messages if (i := rule.query.evaluate(m, context)) is not None]
    writer = DynamoDBTableWriter(dynamodb_resource(endpoint=endpoint), table)
    writer.put_many([writer.item(i) for i in items])
    return len(items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory for the PNG files")
    parser.add_argument("--weather-days", type=int, default=0, help="real weather_lake runs")
    parser.add_argument(
        "--from-demo", action="store_true", help="the lake and runs ./lake demo left"
    )
    parser.add_argument(
        "--serve", action="store_true", help="keep the server running afterwards (Ctrl-C stops)"
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="iot-lake-shots-"))
    plugins = ROOT / "plugins"
    if not args.from_demo:
        import tests.conftest  # noqa: F401  (test settings before Airflow loads)

        # A fresh Airflow home (the UI shows only these runs), for this process's
        # dag.test() and the API server.
        os.environ.update(
            IOT_LAKE_BACKEND="local",
            IOT_LAKE_HOME=str(work / "lake"),
            AIRFLOW_HOME=str(work / "airflow"),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{work / 'airflow' / 'airflow.db'}",
            AIRFLOW__CORE__PLUGINS_FOLDER=str(plugins),
        )
        (work / "airflow").mkdir()
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True
        )

    from playwright.sync_api import sync_playwright

    from iot_lake.config import settings
    from tests.dashboard import lake_fixture
    from tests.dashboard.api_server import CHROMIUM, CHROMIUM_ARGS, api_server, free_port

    dynalite = None
    if args.weather_days:
        from simulators.iot_core import dynamodb_local

        dynalite = work / "dynalite"
        endpoint = f"http://127.0.0.1:{free_port()}"
        dynamodb_local.start(endpoint, dynalite, table_ms=0)
        os.environ["IOT_LAKE_DYNAMODB_ENDPOINT"] = endpoint
    settings.cache_clear()

    def build() -> None:
        database = settings().curated_database
        if args.from_demo:
            return
        if not args.weather_days:
            lake_fixture.build(database)
            return
        from iot_lake import profiles

        messages, _ = real_weather_run(args.weather_days)
        print(f"cold readings: {fill_cold_readings(endpoint, messages)}", flush=True)
        lake_fixture.build_coffees()
        day = lake_fixture.COFFEE_DAYS[-1].isoformat()
        profiles.profile_table(database, "coffees", day, run_id="fixture_run")

    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with api_server(plugins, work, while_starting=build) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.goto(server.login_url("/iot-lake/weather"))
            for name in PAGES:
                page.goto(f"{server.url}/iot-lake/{name}")
                page.screenshot(path=args.out / f"dashboard_{name}.png", full_page=True)
            # The narrow layout (one chart per row) at 1,000 px.
            page.set_viewport_size({"width": 1000, "height": 900})
            page.goto(f"{server.url}/iot-lake/weather")
            page.screenshot(path=args.out / "dashboard_weather_1000px.png", full_page=True)
            page.set_viewport_size({"width": 1600, "height": 900})
            page.goto(f"{server.url}/plugin/dashboard")
            page.frame_locator("iframe").locator("h1").wait_for(timeout=30_000)
            page.screenshot(path=args.out / "airflow_ui_dashboard.png")
            if args.weather_days or args.from_demo:
                page.goto(f"{server.url}/dags/weather_lake")
                page.get_by_text("profile_observations").first.wait_for(timeout=30_000)
                page.get_by_text("Latest Run").first.wait_for(timeout=30_000)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(2_000)  # the charts animate in
                page.screenshot(path=args.out / "airflow_ui_weather_lake_runs.png")
            browser.close()
            if args.serve:
                print(f"open {server.login_url('/plugin/dashboard')}  (Ctrl-C stops)", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    threading.Event().wait()
    finally:
        if dynalite is not None:
            from simulators.iot_core import dynamodb_local

            dynamodb_local.stop(dynalite)
    for path in sorted(args.out.glob("*.png")):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
