"""The iot-lake dashboard: a FastAPI app that the Airflow API server mounts at ``/iot-lake``.

Pages are server-rendered HTML with inline SVG charts (no JavaScript, no CDN), so they
work offline and inside the Airflow UI's iframe. Links are relative, so the app works
under any mount prefix and behind Airflow's ``base_url``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from iot_lake.dashboard import charts, data

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGES = (
    ("weather", "Weather"),
    ("coffee", "Coffee"),
    ("quality", "Quality"),
    ("profiles", "Profiles"),
    ("incidents", "Incidents"),
)

templates = Jinja2Templates(directory=str(HERE / "templates"))


def _fmt(value: Any, digits: int = 1) -> str:
    """Numbers as the pages show them (the browser test compares these strings)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


templates.env.filters["num"] = _fmt


def create_app(
    dependencies: Sequence[Any] = (), login_url: Callable[[str], str] | None = None
) -> FastAPI:
    """The dashboard app; ``dependencies`` guard every page (Airflow's auth in the plugin).

    ``login_url(next_url)`` is where a logged-out browser is sent (Airflow's login page,
    which comes back to ``next_url``); API clients keep the plain 401.
    """
    app = FastAPI(
        title="iot-lake dashboard",
        dependencies=list(dependencies),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def render(
        request: Request, page: str, context: dict[str, Any], status_code: int = 200
    ) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            f"{page}.html",
            {"pages": PAGES, "page": page, **context},
            status_code=status_code,
        )

    @app.exception_handler(data.BadRequest)
    def bad_request(request: Request, exc: data.BadRequest) -> HTMLResponse:
        page = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        return render(request, "error", {"error": str(exc), "asked": page}, status_code=400)

    @app.exception_handler(HTTPException)
    async def logged_out(request: Request, exc: HTTPException) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 401 and wants_html and login_url is not None:
            return RedirectResponse(login_url(str(request.url)), status_code=303)
        return await http_exception_handler(request, exc)

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("weather", status_code=307)

    @app.get("/weather", response_class=HTMLResponse)
    def weather(request: Request, start: str | None = None, end: str | None = None):
        page = data.weather(start or None, end or None)
        if "missing" not in page:
            page["charts"] = _weather_charts(page["stations"])
            page["station_rows"] = _station_summary(page["stations"])
            if not isinstance(page["conditions"], data.Missing):
                page["conditions_chart"] = charts.bar_chart(
                    "Observations per present weather condition",
                    {
                        str(r["present_weather_condition"] or "none reported"): float(
                            r["observation_count"]
                        )
                        for r in page["conditions"]
                    },
                    unit="obs",
                )
            if isinstance(page["precipitation"], list):
                page["precipitation_chart"] = _precipitation_chart(page["precipitation"])
            stations = sorted({r["weather_station"] for r in page["stations"]})
        else:
            stations = []
        page["cold"] = data.cold_readings(stations)
        page["cold_columns"] = _columns(page["cold"]) if isinstance(page["cold"], list) else []
        return render(request, "weather", page)

    @app.get("/coffee", response_class=HTMLResponse)
    def coffee(request: Request, start: str | None = None, end: str | None = None):
        page = data.coffee(start or None, end or None)
        if "missing" not in page:
            hours = {int(r["hour_of_day"]): int(r["coffees"]) for r in page["per_hour"]}
            page["per_hour_chart"] = charts.bar_chart(
                "Coffees per hour of day",
                {f"{h:02d}h": float(hours.get(h, 0)) for h in range(24)},
                unit="cups",
            )
            shares = page["shares"]
            page["share_chart"] = charts.share_bars(
                "Share of coffee drinkers (among those the face analysis could judge)",
                {
                    "smiling": (shares.get("smiles") or 0, shares.get("smile_known") or 0),
                    "glasses": (shares.get("glasses") or 0, shares.get("glasses_known") or 0),
                    "beard": (shares.get("beards") or 0, shares.get("beard_known") or 0),
                    "mustache": (shares.get("mustaches") or 0, shares.get("mustache_known") or 0),
                },
            )
        return render(request, "coffee", page)

    @app.get("/quality", response_class=HTMLResponse)
    def quality(
        request: Request,
        start: str | None = None,
        end: str | None = None,
        table: str | None = None,
        only_failed: bool = False,
    ):
        page = data.quality_history(start or None, end or None, table or None, only_failed)
        if "missing" not in page:
            per_day: dict[str, int] = defaultdict(int)
            for row in page["summary"]:
                per_day[row["dt"]] += int(row["failed"])
            page["failed_chart"] = charts.bar_chart(
                "Failed checks per day",
                {d: float(n) for d, n in sorted(per_day.items())},
                unit="failed",
                color="#d62728",
            )
            page["tables"] = sorted({r["table_name"] for r in page["summary"]})
        return render(request, "quality", page)

    @app.get("/profiles", response_class=HTMLResponse)
    def profiles(request: Request, table: str | None = None, day: str | None = None):
        return render(request, "profiles", data.profiles(table or None, day or None))

    @app.get("/incidents", response_class=HTMLResponse)
    def incidents(request: Request):
        from iot_lake import incidents as store

        return render(request, "incidents", {"incidents": store.recent(), "path": store.location()})

    return app


def _weather_charts(rows: list[dict[str, Any]]) -> list[Any]:
    """One chart per measure (min, avg, max), one line per station."""
    by_station: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_station[row["weather_station"]].append(row)
    out = []
    for key, label in (
        ("min_temperature_c", "Minimum"),
        ("avg_temperature_c", "Average"),
        ("max_temperature_c", "Maximum"),
    ):
        series = [
            charts.Series(station, [(r["dt"], _num(r[key])) for r in station_rows])
            for station, station_rows in sorted(by_station.items())
        ]
        out.append(
            charts.line_chart(f"{label} air temperature per station and day", series, unit="°C")
        )
    return out


def _precipitation_chart(rows: list[dict[str, Any]]) -> Any:
    """Grouped bars: per day one bar per station (no bar where a station reported none)."""
    days = sorted({r["dt"] for r in rows})
    stations = sorted({r["weather_station"] for r in rows})
    value = {(r["weather_station"], r["dt"]): _num(r["precipitation_mm"]) for r in rows}
    return charts.grouped_bar_chart(
        "Daily precipitation per station",
        days,
        {s: [value.get((s, d)) for d in days] for s in stations},
        unit="mm",
    )


def _station_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per station over the range: the lowest min, count-weighted mean, highest max."""
    acc: dict[str, dict[str, Any]] = {}
    for row in rows:
        a = acc.setdefault(
            row["weather_station"],
            {
                "weather_station": row["weather_station"],
                "days": 0,
                "observations": 0,
                "min": None,
                "max": None,
                "_sum": 0.0,
                "_n": 0,
            },
        )
        a["days"] += 1
        a["observations"] += int(row["observation_count"] or 0)
        count = int(row["temperature_count"] or 0)
        for key, pick in (("min", min), ("max", max)):
            value = _num(row[f"{key}_temperature_c"])
            if value is not None:
                a[key] = value if a[key] is None else pick(a[key], value)
        if row["avg_temperature_c"] is not None and count:
            a["_sum"] += float(row["avg_temperature_c"]) * count
            a["_n"] += count
    for a in acc.values():
        a["avg"] = a["_sum"] / a["_n"] if a["_n"] else None
    return [acc[k] for k in sorted(acc)]


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _columns(items: list[dict[str, Any]]) -> list[str]:
    """Keys first, then temperatures, then the other attributes, alphabetically."""
    first = ["weather_station", "time"]
    rest = sorted(
        {k for item in items for k in item} - set(first),
        key=lambda k: (not k.startswith("air_temperature"), k),
    )
    return [c for c in first if any(c in i for i in items)] + rest
