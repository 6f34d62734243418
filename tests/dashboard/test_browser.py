"""Browser test: the dashboard inside Airflow's API server, in headless Chromium.

The numbers on each page are compared with plain SQL on the same fixture lake, and a
screenshot of every page is saved under the test's temporary directory.
"""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import ROOT
from tests.dashboard import lake_fixture
from tests.dashboard.api_server import CHROMIUM, CHROMIUM_ARGS, api_server
from tests.dashboard.expected import rows

# Each test drives Chromium against an `airflow api-server` (some start both in their body).
pytestmark = [pytest.mark.browser, pytest.mark.scheduler]


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
            assert any(v["name"] == "iot-lake" and v["url_route"] == "dashboard" for v in views)
            page.goto(f"{server.url}/plugin/dashboard")
            frame = page.frame_locator("iframe")
            frame.locator('[data-testid="station-summary"]').wait_for(timeout=30_000)
            page.screenshot(path=tmp_path / "airflow_ui.png")
        finally:
            browser.close()
    for name in ("weather", "coffee", "quality", "profiles", "airflow_ui"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    assert sorted(expected) == sorted(lake_fixture.STATIONS)


@pytest.fixture
def browser():
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def logged_in(browser, server, width: int = 1600):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(server.login_url("/iot-lake/weather"))
    assert page.url.endswith("/iot-lake/weather")
    return page


@pytest.mark.timeout(300)
def test_a_logged_out_visit_goes_to_the_login_page_and_back(
    airflow_db, fixture_lake, browser, tmp_path_factory
) -> None:
    # A server where not everyone is admin: a visitor without a session must log in.
    with api_server(
        ROOT / "plugins", tmp_path_factory.mktemp("login-server"), users={"ada": "lovelace-42"}
    ) as secured:
        page = browser.new_page()
        target = f"{secured.url}/iot-lake/quality?only_failed=true"
        page.goto(target)
        assert "/auth/login" in page.url and "next=" in page.url, page.url  # the login page
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill("lovelace-42")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(target, timeout=30_000)  # and back where the visitor was going
        page.get_by_test_id("check-history").wait_for()
        # A script (no text/html in Accept) still gets the plain 401, not a login page.
        api = browser.new_page().request.get(
            f"{secured.url}/iot-lake/quality", headers={"Accept": "application/json"}
        )
        assert api.status == 401
        assert api.json()["detail"]


@pytest.mark.timeout(240)
def test_a_bad_parameter_shows_a_400_page_that_says_what_was_wrong(
    server, fixture_lake, browser
) -> None:
    page = logged_in(browser, server)
    response = page.goto(f"{server.url}/iot-lake/weather?start=bogus")
    assert response is not None and response.status == 400
    assert (
        page.get_by_test_id("bad-request")
        .inner_text()
        .startswith("start='bogus' is not a day (expected YYYY-MM-DD)")
    )
    page.get_by_role("link", name="weather").last.click()  # the page with its defaults
    page.get_by_test_id("station-summary").wait_for()


@pytest.mark.timeout(240)
def test_the_profiles_page_opens_again_within_the_cache_time(server, fixture_lake, browser) -> None:
    page = logged_in(browser, server)
    for _ in range(3):  # issue 13: the 2nd visit within 30 s was a 500
        response = page.goto(f"{server.url}/iot-lake/profiles")
        assert response is not None and response.status == 200
        assert page.locator('[data-testid="profile"] .pill').count() > 0


@pytest.mark.timeout(240)
def test_the_embedded_dashboard_has_clean_urls(server, fixture_lake, browser) -> None:
    page = logged_in(browser, server)
    page.goto(f"{server.url}/plugin/dashboard")
    frame = page.frame_locator("iframe")
    frame.locator('[data-testid="station-summary"]').wait_for(timeout=30_000)
    frame.locator("nav.top >> text=Quality").click()
    frame.get_by_test_id("check-history").wait_for(timeout=30_000)
    page.wait_for_url(f"{server.url}/plugin/dashboard/iot-lake/quality", timeout=10_000)
    assert "iot-lake/iot-lake" not in page.url
    # The address is a real one: opened directly it shows the same page.
    page.goto(page.url)
    page.frame_locator("iframe").get_by_test_id("check-history").wait_for(timeout=30_000)


def _boxes(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, w: r.width, h: r.height, text: e.textContent}; })",
    )


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
        or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
    )  # fmt: skip


@pytest.mark.timeout(240)
@pytest.mark.parametrize("width", [1600, 1000])
def test_charts_and_tables_are_readable_at_common_widths(
    server, fixture_lake, browser, width: int, tmp_path
) -> None:
    page = logged_in(browser, server, width)
    page.goto(f"{server.url}/iot-lake/weather")
    figures = page.locator("figure.chart-box")
    assert figures.count() >= 4
    for index in range(figures.count()):
        figure = figures.nth(index)
        box = figure.bounding_box()
        assert box is not None and box["width"] >= 560, (width, box)  # never squeezed
        ticks = _boxes(page, f"figure.chart-box >> nth={index} >> svg text.tick")
        assert all(t["h"] >= 9 for t in ticks), ticks  # 11 px labels drawn >= 9 px
        x_labels = [t for t in ticks if t["y"] > box["y"] + box["height"] * 0.6]
        for a, b in itertools.combinations(x_labels, 2):
            assert not _overlap(a, b), (width, a, b)
    page.screenshot(path=tmp_path / f"weather_{width}.png", full_page=True)

    page.goto(f"{server.url}/iot-lake/quality")
    ticks = page.locator("figure.chart-box svg text.tick[text-anchor=end]").all_text_contents()
    assert ticks[0] == "0" and not any(t.startswith("-") for t in ticks)  # counts from 0
    rows = _boxes(page, '[data-testid="check-history"] tbody tr')
    assert rows and max(r["h"] for r in rows) <= 48, max(r["h"] for r in rows)  # 1-2 lines
    page.screenshot(path=tmp_path / f"quality_{width}.png", full_page=True)
