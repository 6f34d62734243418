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
