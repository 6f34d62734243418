"""The ISD parser: fields, scaling, sentinels, additional groups, bad input, real files."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import logging
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from simulators.weather_station import isd
from simulators.weather_station.isd import (
    MEMO_LIMIT,
    IsdFormatError,
    ParseStats,
    parse_line,
    read_observations,
)
from simulators.weather_station.message import DATA_DIR

GA = "GA1{coverage}1{height}1{cloud}1"


def test_mandatory_section_is_decoded_and_scaled(isd_record: Callable[..., str]) -> None:
    obs = parse_line(isd_record())

    assert obs.station == "722540-13904"
    assert obs.time == dt.datetime(2014, 1, 1, 0, 53, tzinfo=dt.UTC)
    assert (obs.latitude, obs.longitude, obs.elevation) == (30.183, -97.68, 151.0)
    assert obs.report_type == "FM-15"
    assert (obs.wind_direction.value, obs.wind_direction.quality) == (160.0, "5")
    assert obs.wind_speed.value == 2.6
    assert obs.ceiling.value == 22000.0
    assert obs.visibility.value == 16093.0
    assert obs.air_temperature.value == 5.6
    assert obs.dew_point.value == -1.1
    assert (obs.sea_level_pressure.value, obs.sea_level_pressure.quality) == (1026.8, "5")


def test_missing_value_sentinels_become_none_and_keep_their_quality(
    isd_record: Callable[..., str],
) -> None:
    obs = parse_line(
        isd_record(
            latitude="+99999",
            longitude="+999999",
            elevation="+9999",
            wind_direction="999",
            wind_direction_quality="9",
            wind_speed="9999",
            ceiling="99999",
            visibility="999999",
            air_temperature="+9999",
            air_temperature_quality="9",
            dew_point="+9999",
            sea_level_pressure="99999",
            sea_level_pressure_quality="9",
        )
    )

    assert obs.latitude is obs.longitude is obs.elevation is None
    for measurement in (
        obs.wind_direction,
        obs.wind_speed,
        obs.ceiling,
        obs.visibility,
        obs.air_temperature,
        obs.dew_point,
        obs.sea_level_pressure,
    ):
        assert measurement.value is None
    assert obs.air_temperature.quality == "9"
    assert obs.sea_level_pressure.quality == "9"


def test_negative_and_zero_values_are_real_numbers(isd_record: Callable[..., str]) -> None:
    obs = parse_line(isd_record(air_temperature="-0400", dew_point="+0000", elevation="-0012"))

    assert obs.air_temperature.value == -40.0
    assert obs.dew_point.value == 0.0
    assert obs.elevation == -12.0


def test_sky_cover_layers_read_each_field_from_its_own_columns(
    isd_record: Callable[..., str],
) -> None:
    additional = (
        "ADD"
        + GA.format(coverage="08", height="+00450", cloud="06")
        + GA.format(coverage="02", height="+99999", cloud="99")
        + GA.format(coverage="99", height="+01200", cloud="23")
    )
    obs = parse_line(isd_record(additional=additional))

    assert [(x.coverage_code, x.base_height, x.cloud_type_code) for x in obs.sky_cover] == [
        ("08", 450.0, "06"),
        ("02", None, "99"),
        ("99", 1200.0, "23"),
    ]
    assert obs.sky_cover[0].coverage == "Eight oktas - 10/10, or OVC"
    assert obs.sky_cover[0].cloud_type == "Stratocumulus (Sc)"
    assert obs.sky_cover[1].cloud_type is None
    assert obs.sky_cover[2].coverage is None
    assert obs.sky_cover[2].cloud_type == "Cumulus and/or Fracto-cumulus"


def test_groups_after_other_groups_are_found_by_their_lengths(
    isd_record: Callable[..., str],
) -> None:
    # MA1 and GD1 come first and must be skipped by their exact lengths; the REM text
    # contains look-alike identifiers that must not be read as groups.
    additional = (
        "ADDMA1102615100796GD12991+0609659AW1611AW2101"
        + GA.format(coverage="04", height="+06096", cloud="00")
        + "GF199999990990060961991991MW1021MW2451REMMET069GA1081+00100061MW1991"
    )
    obs = parse_line(isd_record(additional=additional))

    assert [(w.source, w.code, w.quality) for w in obs.present_weather] == [
        ("AW", "61", "1"),
        ("AW", "10", "1"),
        ("MW", "02", "1"),
        ("MW", "45", "1"),
    ]
    assert obs.present_weather[0].condition == "Rain, not freezing, slight"
    assert obs.present_weather[1].condition == "Mist"
    assert obs.present_weather[2].condition == "State of sky on the whole unchanged"
    assert len(obs.sky_cover) == 1
    assert obs.sky_cover[0].cloud_type == "Cirrus (Ci)"
    assert obs.sky_condition is not None
    assert obs.sky_condition.lowest_cloud_base_height == 6096.0


def test_present_weather_code_outside_its_table_has_no_text(
    isd_record: Callable[..., str],
) -> None:
    obs = parse_line(isd_record(additional="ADDAW1061"))

    assert obs.present_weather[0].code == "06"
    assert obs.present_weather[0].condition is None


def test_record_without_additional_section_has_no_groups(
    isd_record: Callable[..., str],
) -> None:
    obs = parse_line(isd_record())

    assert obs.sky_cover == ()
    assert obs.present_weather == ()
    assert obs.sky_condition is None


def test_unknown_group_keeps_the_observation_and_is_counted(
    isd_record: Callable[..., str],
) -> None:
    stats = ParseStats()
    obs = parse_line(isd_record(additional="ADDAW1611ZZ9123456AW2101"), stats)

    assert obs.air_temperature.value == 5.6
    assert [w.code for w in obs.present_weather] == ["61"]
    assert stats.unknown_groups == 1


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"date": "2014X101"}, "date/time"),
        ({"date": "20141301"}, "date/time"),
        ({"air_temperature": "+00A6"}, "air temperature"),
        ({"sea_level_pressure_quality": "?"}, "sea level pressure quality"),
        ({"additional": "ADDGA1081+0045"}, "truncated"),
    ],
)
def test_malformed_record_raises_a_clear_error(
    isd_record: Callable[..., str], fields: dict[str, str], reason: str
) -> None:
    with pytest.raises(IsdFormatError, match=reason):
        parse_line(isd_record(**fields))


def test_a_malformed_field_is_rejected_every_time_not_remembered(
    isd_record: Callable[..., str],
) -> None:
    good = parse_line(isd_record(air_temperature="+0123"))
    for _ in range(2):
        with pytest.raises(IsdFormatError, match="air temperature"):
            parse_line(isd_record(air_temperature="+01_3"))

    assert parse_line(isd_record(air_temperature="+0123")) == good
    assert good.air_temperature.value == 12.3


def test_memo_tables_stay_bounded_and_correct_beyond_their_limit(
    isd_record: Callable[..., str],
) -> None:
    for value in range(MEMO_LIMIT + 50):
        obs = parse_line(isd_record(visibility=f"{value:06d}"))
        assert obs.visibility.value == float(value)

    assert len(isd._VISIBILITY) <= MEMO_LIMIT


def test_short_line_is_rejected() -> None:
    with pytest.raises(IsdFormatError, match="mandatory section"):
        parse_line("0000722540139042014")


def test_bad_lines_are_skipped_counted_with_file_and_line_and_logged(
    isd_record: Callable[..., str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [
        isd_record(time="0053"),
        "garbage",
        isd_record(time="0153", air_temperature="+0X00"),
        "",
        isd_record(time="0253"),
    ]
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    stats = ParseStats()

    with caplog.at_level(logging.WARNING):
        observations = list(read_observations(path, stats))

    assert [o.time.hour for o in observations] == [0, 2]
    assert stats.observations == 2
    assert stats.skipped == 2
    assert [(f, n) for f, n, _ in stats.bad_lines] == [(str(path), 2), (str(path), 3)]
    assert f"{path}:2" in caplog.text and f"{path}:3" in caplog.text


def test_plain_and_gzip_files_give_the_same_observations(tmp_path: Path) -> None:
    source = DATA_DIR / "726430-14920-2015.gz"
    plain = tmp_path / "726430-14920-2015"
    plain.write_bytes(gzip.decompress(source.read_bytes()))

    assert list(read_observations(plain)) == list(read_observations(source))


def test_truncated_gzip_ends_the_file_with_the_error_recorded(tmp_path: Path) -> None:
    data = (DATA_DIR / "725300-94846-2014.gz").read_bytes()
    broken = tmp_path / "broken.gz"
    broken.write_bytes(data[: len(data) // 2])
    stats = ParseStats()

    observations = list(read_observations(broken, stats))

    assert 1000 < len(observations) < 4262
    assert stats.skipped == 1
    assert "unreadable" in stats.bad_lines[0][2]


@pytest.mark.parametrize(
    ("name", "records"),
    [
        ("722540-13904-2014.gz", 4237),
        ("725300-94846-2014.gz", 4262),
        ("010060-99999-2014.gz", 2816),
        ("726430-14920-2015.gz", 154),  # README says 153: wc -l misses the last line
        ("725300-94846-1983.gz", 8760),
        ("723030-13714-1973.gz", 8581),
    ],
)
def test_every_real_record_parses(name: str, records: int) -> None:
    stats = ParseStats()
    observations = list(read_observations(DATA_DIR / name, stats))

    assert len(observations) == records
    assert stats.skipped == 0
    assert stats.unknown_groups == 0
    assert all(o.station == name[:12] for o in observations)


def test_real_files_hold_the_documented_groups() -> None:
    def count(name: str) -> tuple[int, int, int]:
        obs = list(read_observations(DATA_DIR / name))
        return (
            sum(any(w.source == "AW" for w in o.present_weather) for o in obs),
            sum(any(w.source == "MW" for w in o.present_weather) for o in obs),
            sum(bool(o.sky_cover) for o in obs),
        )

    # Counts from the data set's README (records having AW / MW / GA groups).
    assert count("722540-13904-2014.gz") == (896, 56, 3639)
    assert count("725300-94846-1983.gz") == (0, 8760, 2391)
    assert count("010060-99999-2014.gz") == (0, 0, 0)


def test_parsing_streams_instead_of_loading_the_year() -> None:
    tracemalloc.start()
    try:
        observations = read_observations(DATA_DIR / "725300-94846-1983.gz")
        count = sum(1 for _ in itertools.islice(observations, 3000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 3000
    # Holding 3000 decoded observations takes ~5 MB (the whole year ~15 MB); streaming
    # keeps one line and one observation at a time.
    assert peak < 500_000
