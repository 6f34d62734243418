"""AA (liquid precipitation) and KA (extreme air temperature) groups: decoded as the ISD
format document defines them, and in agreement with a separate reading of the raw columns
over every bundled record that holds such groups."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from simulators.weather_station.isd import (
    ExtremeTemperature,
    IsdFormatError,
    LiquidPrecipitation,
    parse_line,
)
from simulators.weather_station.message import DATA_DIR, to_message

SHARED_DATA = Path("/work/shared/data/isd")
RECORDS, AA_GROUPS, KA_GROUPS = 16917, 18939, 7537


def test_precipitation_groups_are_scaled_and_sentinels_become_none(
    isd_record: Callable[..., str],
) -> None:
    record = isd_record(
        additional="ADDAA101000095AA206999929AA324007691AA499999999GA1081+004501061"
    )

    observation = parse_line(record)

    assert observation.liquid_precip == (
        LiquidPrecipitation(hours=1, depth=0.0, condition=None, quality="5"),
        LiquidPrecipitation(hours=6, depth=None, condition="2", quality="9"),
        LiquidPrecipitation(hours=24, depth=7.6, condition=None, quality="1"),
        LiquidPrecipitation(hours=None, depth=None, condition=None, quality="9"),
    )
    assert len(observation.sky_cover) == 1  # the group after the AA groups is still found


def test_extreme_temperature_groups_read_period_code_and_signed_value(
    isd_record: Callable[..., str],
) -> None:
    record = isd_record(additional="ADDKA1120M+01281KA2120N-00221KA3999N+99999KA4060P+00005MW1021")

    observation = parse_line(record)

    assert observation.extreme_temperature == (
        ExtremeTemperature(period_hours=12.0, code="M", temperature=12.8, quality="1"),
        ExtremeTemperature(period_hours=12.0, code="N", temperature=-2.2, quality="1"),
        ExtremeTemperature(period_hours=None, code="N", temperature=None, quality="9"),
        ExtremeTemperature(period_hours=6.0, code="P", temperature=0.0, quality="5"),
    )
    assert [w.code for w in observation.present_weather] == ["02"]


def test_codes_outside_the_format_tables_become_none(isd_record: Callable[..., str]) -> None:
    observation = parse_line(isd_record(additional="ADDAA1010012Z5KA1240X+01005"))

    assert observation.liquid_precip[0].condition is None
    assert observation.liquid_precip[0].depth == 1.2
    assert observation.extreme_temperature[0].code is None
    assert observation.extreme_temperature[0].temperature == 10.0


@pytest.mark.parametrize(
    "additional",
    [
        "ADDAA1x1000095",
        "ADDAA101+00095",
        "ADDKA1240M 01005",
        "ADDKA1240M+01005AA1",
        "ADDKA12x0M+01005",
    ],
)
def test_malformed_groups_reject_the_record(
    isd_record: Callable[..., str], additional: str
) -> None:
    with pytest.raises(IsdFormatError):
        parse_line(isd_record(additional=additional))


def _first_line(name: str, contains: str) -> str:
    with gzip.open(DATA_DIR / name, "rt", encoding="ascii") as handle:
        return next(line for line in handle if contains in line)


def test_real_synoptic_record_of_1983_reads_as_written() -> None:
    """O'Hare 1983-01-01 00:00: AA101000095 AA206000091, KA1999M+00171 KA2999N-00441."""
    message = to_message(parse_line(_first_line("725300-94846-1983.gz", "198301010000")))

    assert message["liquid_precip"] == [
        {"hours": 1, "depth": 0.0, "condition": None, "quality": "5"},
        {"hours": 6, "depth": 0.0, "condition": None, "quality": "1"},
    ]
    assert message["extreme_temperature"] == [
        {"period_hours": None, "code": "M", "temperature": 1.7, "quality": "1"},
        {"period_hours": None, "code": "N", "temperature": -4.4, "quality": "1"},
    ]


def test_summary_of_day_period_is_read_as_documented_not_guessed() -> None:
    """2014 SOD records write KA period 024 until April; the document's tenths: 2.4 h."""
    line = _first_line("722540-13904-2014.gz", "SOD  ")

    extremes = parse_line(line).extreme_temperature

    assert [(k.period_hours, k.code) for k in extremes] == [(2.4, "M"), (2.4, "N")]


def test_message_carries_both_arrays_empty_when_absent(isd_record: Callable[..., str]) -> None:
    message = to_message(parse_line(isd_record(additional="ADDGA1081+004501061")))

    assert message["liquid_precip"] == []
    assert message["extreme_temperature"] == []


# --- the independent reading -------------------------------------------------------------
#
# A deliberately plain reading of the raw text that shares nothing with the parser: no
# group-length table, no memo, no walking group by group. The additional section is the
# text between "ADD" at column 106 and the first remarks/element-quality/original-data
# marker; each group is found by a regular expression of its documented layout and cut
# into its documented columns (AA: 2 + 4 + 1 + 1 characters, KA: 3 + 1 + 5 + 1).

_SECTION_END = re.compile(r"REM|EQD|QNN")
_AA = re.compile(r"AA[1-4](\d\d)(\d{4})([0-9A-Z])([0-9A-Z])")
_KA = re.compile(r"KA[1-4](\d{3})([0-9A-Z])([+-]\d{4})([0-9A-Z])")


def _raw_groups(line: str) -> tuple[list[tuple], list[tuple]]:
    if line[105:108] != "ADD":
        return [], []
    section = line[108:]
    end = _SECTION_END.search(section)
    if end:
        section = section[: end.start()]
    precip = [
        (
            None if hours == "99" else int(hours),
            None if depth == "9999" else int(depth) / 10,
            None if condition == "9" else condition,
            quality,
        )
        for hours, depth, condition, quality in _AA.findall(section)
    ]
    extremes = [
        (
            None if period == "999" else int(period) / 10,
            None if code == "9" else code,
            None if value == "+9999" else int(value) / 10,
            quality,
        )
        for period, code, value, quality in _KA.findall(section)
    ]
    return precip, extremes


def _bundled_files() -> list[Path]:
    files = sorted(DATA_DIR.glob("*.gz"))
    shared = sorted(SHARED_DATA.glob("*.gz")) if SHARED_DATA.is_dir() else []
    assert [f.name for f in files] == [f.name for f in shared] or not shared
    return files + [f for f in shared if f.read_bytes() != (DATA_DIR / f.name).read_bytes()]


def test_parser_agrees_with_a_plain_column_reading_of_every_bundled_record() -> None:
    """Every record of every bundled file: the same groups, values and nulls both ways."""
    records = checked_precip = checked_extremes = 0
    for path in _bundled_files():
        with gzip.open(path, "rt", encoding="ascii") as handle:
            for number, line in enumerate(handle, start=1):
                line = line.rstrip("\n")
                precip, extremes = _raw_groups(line)
                observation = parse_line(line)
                message = to_message(observation)
                where = f"{path.name}:{number}"
                assert [tuple(p) for p in observation.liquid_precip] == precip, where
                assert [tuple(k) for k in observation.extreme_temperature] == extremes, where
                assert [tuple(p.values()) for p in message["liquid_precip"]] == precip, where
                got = [tuple(k.values()) for k in message["extreme_temperature"]]
                assert got == extremes, where
                records += bool(precip or extremes)
                checked_precip += len(precip)
                checked_extremes += len(extremes)
    # The comparison covered the real groups, not an empty set (counts of the six files).
    assert (records, checked_precip, checked_extremes) == (RECORDS, AA_GROUPS, KA_GROUPS)


def test_condition_codes_the_independent_reading_keeps_are_the_documented_ones() -> None:
    """The plain reading keeps any code; the bundled data uses only documented ones."""
    seen: set[str] = set()
    for path in sorted(DATA_DIR.glob("*.gz")):
        with gzip.open(path, "rt", encoding="ascii") as handle:
            for line in handle:
                precip, extremes = _raw_groups(line)
                seen |= {p[2] for p in precip if p[2]} | {k[1] for k in extremes if k[1]}
    assert seen <= set("12345678EIJ") | set("NMOP")
    assert {"2", "3", "M", "N"} <= seen
