"""Server-side SVG charts: every value is drawn and inspectable, labels are escaped."""

from __future__ import annotations

import itertools
import re

from iot_lake.dashboard import charts


def test_ticks_cover_the_values_in_round_steps() -> None:
    ticks = charts.nice_ticks(-7.3, 31.2)
    assert ticks[0] <= -7.3 and ticks[-1] >= 31.2
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert steps == {10.0}


def test_count_ticks_are_whole_numbers() -> None:
    assert charts.nice_ticks(0, 1, integer=True) == [0, 1]
    assert charts.nice_ticks(0, 7, integer=True) == [0, 2, 4, 6, 8]


def test_line_chart_draws_one_point_per_value_and_breaks_at_gaps() -> None:
    svg = str(
        charts.line_chart(
            "t",
            [
                charts.Series(
                    "a", [("2024-06-01", 1.0), ("2024-06-02", None), ("2024-06-03", 3.0)]
                ),
                charts.Series("b", [("2024-06-01", 2.0), ("2024-06-02", 2.5), ("2024-06-03", 2.0)]),
            ],
        )
    )
    assert re.findall(r'data-series="a" data-x="([^"]+)" data-y="([^"]+)"', svg) == [
        ("2024-06-01", "1.0"),
        ("2024-06-03", "3.0"),
    ]
    assert svg.count("<polyline") == 1  # "a" has two one-point segments, "b" one line
    assert ">06-02<" in svg  # ISO days are labelled MM-DD


def test_labels_are_escaped() -> None:
    svg = str(charts.bar_chart("<b>", {"<script>x</script>": 1.0}))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_unknown_shares_are_not_drawn_as_zero() -> None:
    html = str(charts.share_bars("s", {"beard": (0, 0), "smile": (1, 4)}))
    assert 'data-label="beard" data-pct="">not judged' in html
    assert 'data-label="smile" data-pct="25.0">25.0% (1 of 4)' in html


def test_no_values_gives_a_sentence_instead_of_an_empty_chart() -> None:
    assert "no values" in str(charts.line_chart("t", [charts.Series("a", [("x", None)])]))
    assert "no values" in str(charts.bar_chart("t", {}))


def _y_ticks(svg: str) -> list[str]:
    return re.findall(
        r'<text class="tick" x="\d+(?:\.\d+)?" y="[\d.]+" text-anchor="end">([^<]+)<', svg
    )


def test_a_count_axis_starts_at_zero_even_when_every_count_is_zero() -> None:
    """Issue 13: "Failed checks per day" with no failures drew its axis from -1 to 1."""
    svg = str(charts.bar_chart("Failed checks per day", {"2024-06-01": 0.0, "2024-06-02": 0.0}))
    assert _y_ticks(svg) == ["0", "1"]
    assert _y_ticks(str(charts.bar_chart("c", {"a": 3.0, "b": 7.0})))[0] == "0"


def test_long_labels_are_rotated_and_each_one_is_drawn() -> None:
    """Issue 13: the present-weather labels overlapped into a smear."""
    labels = [f"Rain, slight, intermittent type {i}" for i in range(15)]
    svg = str(
        charts.bar_chart("Observations per present weather condition", dict.fromkeys(labels, 2.0))
    )
    assert svg.count('transform="rotate(-40') == 15
    for label in labels:  # cut at 28 characters, the whole label in the tooltip
        assert f"<title>{label}</title>" in svg
    height = int(re.search(r'viewBox="0 0 \d+ (\d+)"', svg).group(1))
    assert height > charts.HEIGHT  # room below the axis for the rotated labels


def test_short_labels_stay_horizontal() -> None:
    svg = str(charts.bar_chart("Coffees per hour", {f"{h:02d}h": 1.0 for h in range(24)}))
    assert "rotate(" not in svg
    assert f'viewBox="0 0 {charts.WIDTH} {charts.HEIGHT}"' in svg


def test_precipitation_bars_per_station_and_day_skip_days_without_a_report() -> None:
    from iot_lake.dashboard.app import _precipitation_chart

    rows = [
        {"weather_station": "A", "dt": "2024-06-01", "precipitation_mm": 2.5},
        {"weather_station": "B", "dt": "2024-06-01", "precipitation_mm": None},
        {"weather_station": "A", "dt": "2024-06-02", "precipitation_mm": 0.0},
        {"weather_station": "B", "dt": "2024-06-02", "precipitation_mm": 11.0},
    ]
    svg = str(_precipitation_chart(rows))
    bars = re.findall(r'data-series="(\w)" data-x="([^"]+)" data-y="([^"]+)"', svg)
    assert bars == [
        ("A", "2024-06-01", "2.5"),
        ("A", "2024-06-02", "0.0"),
        ("B", "2024-06-02", "11.0"),
    ]
    assert _y_ticks(svg)[0] == "0"
    assert 'class="legend-item"' in svg and ">A<" in svg.replace("</i>", ">")
