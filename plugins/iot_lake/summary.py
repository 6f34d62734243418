"""What the last days look like in the lake, in the terminal: the dashboard's numbers as text.

    python -m iot_lake.summary 2026-11-22 2026-11-24

Used by ``./lake demo`` to end on the results rather than on paths. Reads the same
queries as the dashboard (``iot_lake/dashboard/sql``), through the backend's engine.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from iot_lake.dashboard import data


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as an aligned text table."""
    cells = [list(columns), *[[_fmt(row.get(c)) for c in columns] for row in rows]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def render(start: str, end: str) -> str:
    days = start if start == end else f"{start} .. {end}"
    out: list[str] = []
    weather = data.weather(start, end)
    if "missing" in weather:
        out.append(f"weather: no statistics yet ({weather['missing'].hint})")
    else:
        out.append(f"weather, {days}: air temperature per station and day (degC)")
        out.append(
            table(
                weather["stations"],
                ("weather_station", "dt", "observation_count", "min_temperature_c",
                 "avg_temperature_c", "max_temperature_c"),
            )
        )
        if isinstance(weather["conditions"], list):
            out.append(f"\nweather, {days}: per present weather condition")
            out.append(
                table(
                    weather["conditions"],
                    ("present_weather_condition", "observation_count",
                     "min_temperature_c", "avg_temperature_c", "max_temperature_c"),
                )
            )
    coffee = data.coffee(start, end)
    if "missing" in coffee:
        out.append(f"\ncoffee: no export yet ({coffee['missing'].hint})")
    else:
        shares = coffee["shares"]
        out.append(
            f"\ncoffee, {days}: {shares.get('coffees', 0)} coffees, {shares.get('faces', 0)} "
            f"faces, {shares.get('smiles', 0)} smiles of {shares.get('smile_known', 0)} judged, "
            f"{shares.get('glasses', 0)} glasses of {shares.get('glasses_known', 0)} judged"
        )
        out.append(table(coffee["machines"], list(coffee["machines"][0]) if coffee["machines"]
                         else ("machine_id",)))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iot_lake.summary", description=__doc__)
    parser.add_argument("start", help="first day, YYYY-MM-DD")
    parser.add_argument("end", nargs="?", help="last day (default: start)")
    args = parser.parse_args(argv)
    print(render(args.start, args.end or args.start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
