"""A local lake holding raw weather objects for a few days, as the ingest side writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from iot_lake.weather import synthetic

DAYS = ("2026-11-02", "2026-11-03", "2026-11-04")


def _observed(message: dict) -> datetime:
    return datetime.strptime(message["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.fixture
def raw_days(lake_settings) -> dict[str, list[dict]]:
    """Three observation days of 5 stations x 24 hours, with the delivery's quirks.

    Objects land in ``weather/day=<observation day>/`` named after their arrival.
    - every 7th message of a day is delivered twice (at-least-once), in another hour;
    - the last hour of each day arrives after midnight (late: still in its day's folder);
    - one message of day 2 is delivered a day late (arrival on day 3 + 1 h).
    """
    messages: dict[str, list[dict]] = {}
    raw = []
    for n, day in enumerate(DAYS):
        day_messages = synthetic.hourly_messages(day, seed=n)
        messages[day] = day_messages
        raw += [(m, _observed(m) + timedelta(minutes=20)) for m in day_messages]
        raw += [
            (m, _observed(m) + timedelta(hours=2)) for m in day_messages[::7]
        ]
    late = messages["2026-11-03"][3]
    raw = [(m, at) for m, at in raw if m is not late]
    raw.append((late, _observed(late) + timedelta(days=1, hours=1)))
    arrival = {id(m): at for m, at in raw}
    by_arrival: dict[datetime, list[dict]] = {}
    for m, at in raw:
        by_arrival.setdefault(at, []).append(m)
    for at, batch in by_arrival.items():
        synthetic.write_raw(lake_settings.uri("raw"), batch, arrival=lambda _m, at=at: at)
    del arrival
    return messages
