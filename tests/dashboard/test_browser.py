"""Browser test: the dashboard inside Airflow's API server, in headless Chromium.

The numbers on each page are compared with plain SQL on the same fixture lake, and a
screenshot of every page is saved under the test's temporary directory.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import ROOT
from tests.dashboard import lake_fixture
from tests.dashboard.api_server import CHROMIUM, CHROMIUM_ARGS, api_server
from tests.dashboard.expected import rows


@pytest.fixture(scope="module")
def server(airflow_db, lake_home, tmp_path_factory, request):
    with api_server(
        ROOT / "plugins",
        tmp_path_factory.mktemp("api-server"),
        # Build the lake while the server boots; pages are read only after it is up.
        while_starting=lambda: request.getfixturevalue("fixture_lake"),
    ) as srv:
        yield srv


@pytest.mark.timeout(240)
def test_dashboard_pages_in_chromium_show_the_lakes_numbers(server, fixture_lake, tmp_path):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            # Log in (all admins) and land on the weather page of the dashboard.
            page.goto(server.login_url("/iot-lake/weather"))
            assert page.url.endswith("/iot-lake/weather")
            expected = {
                r["weather_station"]: r
                for r in rows(
                    "expected_station_summary",
                    start=lake_fixture.days()[0],
                    end=lake_fixture.days()[-1],
                )
            }
            for station, r in expected.items():
                row = page.locator(f'[data-testid="station-summary"] tr[data-station="{station}"]')
                assert row.locator('[data-col="observations"]').inner_text() == str(
                    r["observations"]
                )
                assert row.locator('[data-col="min"]').inner_text() == f"{r['min_c']:.1f}"
                assert row.locator('[data-col="avg"]').inner_text() == f"{r['avg_c']:.1f}"
                assert row.locator('[data-col="max"]').inner_text() == f"{r['max_c']:.1f}"
            assert page.locator("svg.chart circle").count() == 3 * len(expected) * 7
            page.screenshot(path=tmp_path / "weather.png", full_page=True)

            page.click("nav.top >> text=Coffee")
            day = fixture_lake["coffee"][-1]
            machines = rows("expected_coffee_machines", start=day, end=day)
            assert page.get_by_test_id("coffee-total").inner_text() == str(machines[-1]["coffees"])
            for m in machines[:-1]:
                cell = page.locator(f'tr[data-machine="{m["machine_id"]}"] [data-col="coffees"]')
                assert cell.inner_text() == str(m["coffees"])
            page.screenshot(path=tmp_path / "coffee.png", full_page=True)

            page.click("nav.top >> text=Quality")
            failed = rows("expected_failed_checks")
            assert page.get_by_test_id("checks-failed").inner_text() == str(len(failed))
            highlighted = page.locator('[data-testid="check-history"] tr.failed')
            assert highlighted.count() == len(failed)
            assert (
                highlighted.first.locator('[data-col="observed"]').inner_text()
                == (failed[-1]["observed_value"])
            )
            assert (
                highlighted.first.evaluate("el => getComputedStyle(el).backgroundColor")
                == "rgb(255, 245, 245)"
            )
            page.screenshot(path=tmp_path / "quality.png", full_page=True)

            page.click("nav.top >> text=Profiles")
            profile = rows("expected_coffee_nulls", day=day)[0]
            smile = page.locator('[data-testid="profile"] tr[data-column="smile"]')
            assert smile.locator('[data-col="row_count"]').inner_text() == str(profile["row_count"])
            assert smile.locator('[data-col="null_count"]').inner_text().split()[0] == str(
                profile["smile_nulls"]
            )
            page.screenshot(path=tmp_path / "profiles.png", full_page=True)

            # The Airflow UI lists the plugin's view and embeds the dashboard.
            plugins = page.request.get(f"{server.url}/api/v2/plugins?limit=100").json()
            views = [v for p in plugins["plugins"] for v in p.get("external_views", [])]
            assert any(v["name"] == "iot-lake" and v["url_route"] == "iot-lake" for v in views)
            page.goto(f"{server.url}/plugin/iot-lake")
            frame = page.frame_locator("iframe")
            frame.locator('[data-testid="station-summary"]').wait_for(timeout=30_000)
            page.screenshot(path=tmp_path / "airflow_ui.png")
        finally:
            browser.close()
    for name in ("weather", "coffee", "quality", "profiles", "airflow_ui"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    assert sorted(expected) == sorted(lake_fixture.STATIONS)
