"""The local S3 notifications: the simulator only uploads, the notifier runs the Lambda's
handler on the queued events, durably and exactly once in effect (real MariaDB)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iot_lake.coffee import local_notifier as notifier
from iot_lake.coffee import photo_handler as ph
from iot_lake.coffee import photo_writers as pw
from iot_lake.coffee.faces import LocalFaceAnalyzer
from iot_lake.config import PROJECT_ROOT
from simulators.coffee_machine.__main__ import main as press
from simulators.coffee_machine.machine import PHOTOS_DIR
from tests.coffee.conftest import DAY


@pytest.fixture(scope="module")
def analyzer() -> LocalFaceAnalyzer:
    return LocalFaceAnalyzer()


@pytest.fixture
def handle(coffee_db, lake_settings, analyzer):
    """The photo handler as the notifier calls it: handler(event, context) -> dict."""
    connection = coffee_db.connect()
    handler = ph.PhotoHandler(lake_settings, analyzer, pw.MySqlWriter(connection))
    yield lambda event, context: handler(event).as_dict()
    connection.close()


def count(db) -> int:
    return int(db.execute("SELECT COUNT(*) FROM coffees")[0][0])


def pending(lake) -> list[Path]:
    return sorted((notifier.spool(lake) / "pending").glob("*.json"))


def test_presses_only_upload_and_queue_events_the_notifier_turns_into_rows(
    coffee_db, lake_settings, handle, capsys
):
    assert press(["--machines", "2", "--presses", "4", "--rate", "0", "--day", DAY,
                  "--seed", "1", "--quiet"]) == 0  # fmt: skip
    assert "presses=4 failed=0" in capsys.readouterr().err
    assert count(coffee_db) == 0  # the machine wrote no row: that is the handler's job
    queued = pending(lake_settings)
    assert len(queued) == 4
    event = json.loads(queued[0].read_text())
    [record] = event["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == ph.LOCAL_BUCKET
    photo = Path(lake_settings.home, "photos", record["s3"]["object"]["key"])
    assert photo.is_file()

    summary = notifier.drain(lake_settings, handle)

    assert (summary.events, summary.inserted, summary.failed) == (4, 4, [])
    assert pending(lake_settings) == []
    assert len(list((notifier.spool(lake_settings) / "done").glob("*.json"))) == 4
    machines = coffee_db.execute("SELECT DISTINCT machine_id FROM coffees ORDER BY 1")
    assert [m for (m,) in machines] == ["coffee-machine-01", "coffee-machine-02"]
    days = coffee_db.execute("SELECT DISTINCT DATE(coffee_hour) FROM coffees")
    assert [str(d) for (d,) in days] == [DAY]


def test_a_failing_handler_keeps_the_event_and_everything_after_it_pending(
    coffee_db, lake_settings, handle
):
    names = [f"coffee-machine-01/{DAY}/08000{i}-x{i}.png" for i in range(3)]
    image = (PHOTOS_DIR / "coffee.png").read_bytes()
    for name in names:
        notifier.upload_photo(lake_settings, name, image)
    calls = []

    def database_down(event, context):
        calls.append(event)
        raise ConnectionError("MariaDB is down")

    failed = notifier.drain(lake_settings, database_down)
    assert (failed.events, len(failed.failed), len(calls)) == (0, 1, 1)
    assert len(pending(lake_settings)) == 3 and count(coffee_db) == 0

    recovered = notifier.drain(lake_settings, handle)
    assert (recovered.events, recovered.inserted) == (3, 3)
    hours = coffee_db.execute("SELECT TIME(coffee_hour) FROM coffees ORDER BY id")
    assert [str(h) for (h,) in hours] == ["8:00:00", "8:00:01", "8:00:02"]  # in order


def test_an_event_handled_again_after_a_crash_changes_nothing(coffee_db, lake_settings, handle):
    notifier.upload_photo(lake_settings, f"coffee-machine-01/{DAY}/090000-a.png", b"x")
    notifier.drain(lake_settings, handle)
    # Killed after the commit and before the move to done/: the event is still pending.
    [done] = (notifier.spool(lake_settings) / "done").glob("*.json")
    shutil.copy(done, notifier.spool(lake_settings) / "pending" / done.name)

    again = notifier.drain(lake_settings, handle)

    assert (again.events, again.inserted, again.duplicates) == (1, 0, 1)
    assert count(coffee_db) == 1


def test_rescan_finds_a_photo_whose_event_was_never_written(coffee_db, lake_settings, handle):
    notifier.upload_photo(lake_settings, f"coffee-machine-01/{DAY}/100000-a.png", b"x")
    # The uploader died between the photo and its event:
    lost = Path(lake_settings.home, "photos", "coffee-machine-02", DAY, "100001-b.png")
    lost.parent.mkdir(parents=True)
    lost.write_bytes(b"y")
    notifier.drain(lake_settings, handle)
    assert count(coffee_db) == 1

    assert notifier.rescan(lake_settings) == 2
    summary = notifier.drain(lake_settings, handle)

    assert (summary.inserted, summary.duplicates) == (1, 1)
    assert count(coffee_db) == 2


def test_an_event_the_handler_rejects_is_kept_with_its_reason(coffee_db, lake_settings, handle):
    notifier.upload_photo(lake_settings, "holiday/snapshot.png", b"x")
    summary = notifier.drain(lake_settings, handle)
    assert (summary.events, summary.rejected) == (1, 1)
    [kept] = (notifier.spool(lake_settings) / "rejected").glob("*.json")
    record = json.loads(kept.read_text())
    assert "is not <machine>/<YYYY-MM-DD>/<HHMMSS>" in record["rejected"][0]["reason"]
    assert record["event"]["Records"][0]["s3"]["object"]["key"] == "holiday/snapshot.png"
    assert pending(lake_settings) == [] and count(coffee_db) == 0


def test_a_damaged_event_file_is_set_aside_with_its_reason(coffee_db, lake_settings, handle):
    notifier.upload_photo(lake_settings, f"coffee-machine-01/{DAY}/130000-a.png", b"x")
    damaged = notifier.spool(lake_settings) / "pending" / "00000000000000000000-damaged.json"
    damaged.write_text('{"Records": [')
    summary = notifier.drain(lake_settings, handle)
    assert (summary.events, summary.rejected, summary.inserted) == (1, 1, 1)
    kept = json.loads((notifier.spool(lake_settings) / "rejected" / damaged.name).read_text())
    assert kept["raw"] == '{"Records": [' and "Expecting" in kept["reason"]
    assert pending(lake_settings) == []


def test_upload_refuses_names_outside_the_photos_store(lake_settings):
    with pytest.raises(ValueError, match="inside the photos store"):
        notifier.upload_photo(lake_settings, "../escape.png", b"x")
    assert pending(lake_settings) == []


def _notifier_env(coffee_db, lake_settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        IOT_LAKE_BACKEND="local",
        IOT_LAKE_HOME=lake_settings.home,
        AIRFLOW_CONN_COFFEE_MYSQL=coffee_db.connection_json(),
        PYTHONPATH=f"{PROJECT_ROOT}:{PROJECT_ROOT / 'plugins'}",
    )
    return env


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_a_killed_watcher_loses_nothing_and_doubles_nothing(coffee_db, lake_settings):
    """The real CLI: a watcher handles photos, is SIGKILLed, photos land while it is down,
    the next run handles them: every photo has exactly one row."""
    env = _notifier_env(coffee_db, lake_settings)
    image = (PHOTOS_DIR / "chelsea.png").read_bytes()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "iot_lake.coffee.local_notifier", "--watch", "--interval", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for i in range(3):
            notifier.upload_photo(lake_settings, f"coffee-machine-01/{DAY}/11000{i}-w.png", image)
        assert _wait_for(lambda: count(coffee_db) == 3, 60), watcher.stderr
        assert notifier.heartbeat(lake_settings).is_file()  # what compose's health check reads
    finally:
        watcher.send_signal(signal.SIGKILL)
        watcher.wait(timeout=30)
    for i in range(4):  # while no notifier runs
        notifier.upload_photo(lake_settings, f"coffee-machine-02/{DAY}/12000{i}-d.png", image)
    assert count(coffee_db) == 3

    done = subprocess.run(
        [sys.executable, "-m", "iot_lake.coffee.local_notifier"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "inserted=4" in done.stderr and "failed=0" in done.stderr
    assert count(coffee_db) == 7
    keys = coffee_db.execute("SELECT COUNT(DISTINCT photo_key) FROM coffees")[0][0]
    assert keys == 7 and pending(lake_settings) == []
