"""Fault benchmark: SIGKILL the broker, then the ingest service, then both, mid-replay.

    uv run --frozen python bench/faults.py            # 12 stations, 57,618 messages
    uv run --frozen python bench/faults.py --copies 1 # 6 stations, 28,809 (quicker, < 50k)

The fleet (``python -m simulators.weather_station --speed max``, one MQTT client per
station, mutual TLS, QoS 1) replays the bundled ISD files, each twice (the second copy
under another station id, so that every (station, time) key is distinct): 12 stations,
57,618 messages. Meanwhile, as the broker's write-ahead log passes 15 %, 40 % and 65 % of
the messages:

1. Mosquitto is SIGKILLed and started again 1.5 s later;
2. the ingest service (``python -m simulators.iot_core``) is SIGKILLed and started again;
3. the ingest service and then Mosquitto are SIGKILLed, and both started again.

Once the fleet has exited and the ingest service has read the whole log, it is stopped
(SIGTERM writes every buffer) and started once more to check it finds nothing left. The
delivered objects are read back: ``landed_distinct`` counts distinct (station, time)
keys, ``lost`` the keys the fleet published (and the broker acknowledged) that never
landed, ``duplicates`` the delivered records beyond the published count (copies are
allowed: the lake removes them). ``lost`` must be 0.

Baseline, measured in the same run: the same replay into a broker and service nobody
kills (``--no-baseline`` skips it), so the cost of the faults in time is visible.
Last line: ``bench faults: published=N acked=N landed_distinct=N lost=N duplicates=N``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from simulators.iot_core import dynamodb_local  # noqa: E402
from simulators.iot_core.dynamodb import dynamodb_client, ensure_table  # noqa: E402
from simulators.iot_core.wal import read_segment, segments  # noqa: E402
from simulators.things.broker import Broker, free_port, start_broker  # noqa: E402
from simulators.things.local import thing_names  # noqa: E402
from simulators.weather_station.message import default_files  # noqa: E402

FLEET_LINE = re.compile(r"fleet: published=(\d+) acknowledged=(\d+) failed=(\d+)")
KILL_AT = (0.15, 0.40, 0.65)


def station_files(work: Path, copies: int) -> list[Path]:
    """The bundled ISD files, ``copies`` times; copy k > 0 gets USAF id digit 1 = str(k+7)."""
    files = default_files()
    for copy in range(1, copies):
        for source in default_files():
            lines = gzip.decompress(source.read_bytes()).splitlines(keepends=True)
            marker = str(copy + 7).encode()[-1:]
            renamed = [line[:4] + marker + line[5:] for line in lines]
            target = work / f"{marker.decode()}{source.name[1:]}"
            target.write_bytes(gzip.compress(b"".join(renamed)))
            files.append(target)
    return files


def expected_keys(files: list[Path]) -> set[tuple[str, str]]:
    from simulators.weather_station.isd import ParseStats
    from simulators.weather_station.replay import ReplayOptions, Station, merged_payloads

    stations = [
        Station(name, path) for name, path in zip(thing_names(len(files)), files, strict=True)
    ]
    stats = {s.thing: ParseStats() for s in stations}
    keys = set()
    for _, _, payload in merged_payloads(stations, ReplayOptions(speed=None), stats):
        doc = json.loads(payload)
        keys.add((doc["weather_station"], doc["time"]))
    return keys


def wal_progress(wal_dir: Path) -> int:
    """Messages the broker has logged so far (its sequence number)."""
    try:
        found = segments(wal_dir)
        if not found:
            return 0
        first, path = found[-1]
        return first + len(read_segment(path, first)[0])
    except FileNotFoundError:  # a segment deleted under our feet: ask again
        return 0


class Stack:
    """Broker (with its WAL), dynalite and the ingest service, each killable."""

    def __init__(self, work: Path, stations: int, buffer_interval: int) -> None:
        self.work = work
        self.broker: Broker = start_broker(work / "certs", thing_names(stations))
        self.dyn_dir = work / "dynalite"
        self.endpoint = f"http://127.0.0.1:{free_port()}"
        dynamodb_local.start(self.endpoint, self.dyn_dir, table_ms=0)
        ensure_table(dynamodb_client(endpoint=self.endpoint), "weather_cold_readings")
        self.lake = work / "lake"
        self.buffer_interval = buffer_interval
        self.engine: subprocess.Popen[bytes] | None = None
        self.engine_starts = 0

    def start_engine(self) -> None:
        self.engine_starts += 1
        log_path = self.work / f"engine-{self.engine_starts}.log"
        env = {
            **os.environ,
            "IOT_LAKE_BACKEND": "local",
            "IOT_LAKE_HOME": str(self.lake),
            "IOT_LAKE_DYNAMODB_ENDPOINT": self.endpoint,
            "AIRFLOW_CONN_LAKE_DEFAULT": json.dumps({"conn_type": "generic", "extra": {}}),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")]),
        }
        with open(log_path, "wb") as log:
            self.engine = subprocess.Popen(
                [sys.executable, "-m", "simulators.iot_core", "--wal-dir",
                 str(self.broker.wal_dir), "--buffer-interval", str(self.buffer_interval),
                 "--gzip-level", "1", "--metrics-interval", "1"],
                cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        self.engine_log = log_path

    def kill_engine(self) -> None:
        assert self.engine is not None
        os.killpg(self.engine.pid, signal.SIGKILL)
        self.engine.wait(30)

    def stop_engine(self) -> str:
        """SIGTERM (writes every buffer); returns the engine's log."""
        assert self.engine is not None
        deadline = time.monotonic() + 120  # its signal handlers are set once it reads
        while "reading the write-ahead log" not in self.engine_log.read_text(errors="replace"):
            if time.monotonic() > deadline or self.engine.poll() is not None:
                raise SystemExit(f"engine did not start:\n{self.engine_log.read_text()}")
            time.sleep(0.1)
        self.engine.send_signal(signal.SIGTERM)
        if self.engine.wait(300) != 0:
            raise SystemExit(f"engine exited with {self.engine.returncode}")
        return self.engine_log.read_text(errors="replace")

    def received(self) -> list[int]:
        """The running engine's ``received`` counter of the Firehose rule, per metrics line."""
        text = self.engine_log.read_text(errors="replace")
        return [int(n) for n in re.findall(r"rule=weather_to_firehose received=(\d+)", text)]

    def wait_quiet(self, still_s: float = 2.0, timeout_s: float = 600.0) -> None:
        """Until the engine's counter has not moved for ``still_s`` (it read the whole log)."""
        deadline = time.monotonic() + timeout_s
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            counts = self.received()
            count = counts[-1] if counts else -1
            if count != last:
                last, since = count, time.monotonic()
            elif count >= 0 and time.monotonic() - since >= still_s:
                return
            time.sleep(0.25)
        raise SystemExit("the engine never caught up with the log")

    def drain(self) -> int:
        """Let the engine read the whole log, stop it, and check a new run finds nothing."""
        self.wait_quiet()
        self.stop_engine()
        runs = 0
        while True:
            runs += 1
            self.start_engine()
            self.wait_quiet()
            log = self.stop_engine()
            received = re.findall(r"final metrics rule=weather_to_firehose received=(\d+)", log)
            if received and int(received[-1]) == 0:
                return runs
            if runs > 5:
                raise SystemExit("the engine keeps finding messages in the log")

    def close(self) -> None:
        if self.engine is not None and self.engine.poll() is None:
            os.killpg(self.engine.pid, signal.SIGKILL)
        dynamodb_local.stop(self.dyn_dir)
        self.broker.stop()


def run_fleet(stack: Stack, files: list[Path], log_path: Path) -> subprocess.Popen[bytes]:
    broker = stack.broker
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "simulators.weather_station", "--speed", "max",
             "--stations", str(len(files)), "--files", *map(str, files),
             "--things", *thing_names(len(files)),
             "--endpoint", broker.host, "--port", str(broker.port),
             "--certs-dir", str(broker.certs_dir), "--ca-file", str(broker.ca_file),
             "--drain-timeout", "180", "--quiet"],
            cwd=ROOT, stdout=log, stderr=log,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])},
        )  # fmt: skip


def landed(lake: Path) -> tuple[set[tuple[str, str]], int, int]:
    """(distinct keys, lines, distinct lines) of the delivered weather objects."""
    keys: set[tuple[str, str]] = set()
    lines = 0
    distinct: set[bytes] = set()
    for path in (lake / "raw" / "weather").rglob("*.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            lines += 1
            distinct.add(line)
            doc = json.loads(line)
            keys.add((doc["weather_station"], doc["time"]))
    return keys, lines, len(distinct)


def replay(work: Path, files: list[Path], total: int, faults: bool) -> dict[str, object]:
    stack = Stack(work, len(files), buffer_interval=60)
    events: list[str] = []
    try:
        stack.start_engine()
        started = time.monotonic()
        fleet = run_fleet(stack, files, work / "fleet.log")
        offset = wal_progress(stack.broker.wal_dir)
        plan = list(KILL_AT) if faults else []
        while fleet.poll() is None:
            done = (wal_progress(stack.broker.wal_dir) - offset) / total
            if plan and done >= plan[0]:
                step = len(KILL_AT) - len(plan) + 1
                at = f"{time.monotonic() - started:.1f}s, {done:.0%}"
                if step == 1:
                    stack.broker.kill()
                    time.sleep(1.5)
                    stack.broker.start()
                    events.append(f"kill -9 broker at {at}, restarted 1.5 s later")
                elif step == 2:
                    stack.kill_engine()
                    time.sleep(1.0)
                    stack.start_engine()
                    events.append(f"kill -9 ingest service at {at}, restarted 1 s later")
                else:
                    stack.kill_engine()
                    stack.broker.kill()
                    time.sleep(1.5)
                    stack.broker.start()
                    stack.start_engine()
                    events.append(f"kill -9 ingest service then broker at {at}, both restarted")
                print(f"  {events[-1]}", flush=True)
                plan.pop(0)
            time.sleep(0.05)
        fleet_s = time.monotonic() - started
        text = (work / "fleet.log").read_text(errors="replace")
        match = FLEET_LINE.search(text)
        if match is None:
            raise SystemExit(f"the fleet did not report (exit {fleet.returncode}):\n{text[-3000:]}")
        published, acked, failed = map(int, match.groups())
        drain_runs = stack.drain()
        elapsed = time.monotonic() - started
        keys, lines, distinct_lines = landed(stack.lake)
        return {
            "published": published,
            "acked": acked,
            "failed": failed,
            "keys": keys,
            "lines": lines,
            "duplicates": max(0, lines - published),
            "distinct_lines": distinct_lines,
            "fleet_s": fleet_s,
            "elapsed_s": elapsed,
            "events": events,
            "drain_runs": drain_runs,
            "missed_kills": len(plan),
        }
    finally:
        stack.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2, help="replays of the bundled files")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        work = Path(tmp)
        files = station_files(work, args.copies)
        expected = expected_keys(files)
        total = len(expected)
        print(f"{len(files)} stations, {total:,} messages (distinct keys), --speed max")
        base = None
        if not args.no_baseline:
            (work / "baseline").mkdir()
            base = replay(work / "baseline", files, total, faults=False)
            print(f"baseline (no faults): fleet {base['fleet_s']:.1f} s", flush=True)
        (work / "faults").mkdir()
        result = replay(work / "faults", files, total, faults=True)
    keys = result["keys"]
    lost = len(expected - keys)  # type: ignore[operator]
    print()
    print(f"{'measure':<44}{'value':>12}")
    print("-" * 56)
    print(f"{'stations':<44}{len(files):>12}")
    for name in ("published", "acked", "failed", "lines", "duplicates", "drain_runs"):
        print(f"{name:<44}{int(result[name]):>12,}")  # type: ignore[call-overload]
    print(f"{'landed distinct (station, time)':<44}{len(keys):>12,}")  # type: ignore[arg-type]
    print(f"{'lost (published, never landed)':<44}{lost:>12,}")
    print(f"{'fleet time with faults (s)':<44}{result['fleet_s']:>12.1f}")
    if base is not None:
        print(f"{'fleet time, baseline without faults (s)':<44}{base['fleet_s']:>12.1f}")
        base_lost = len(expected - base["keys"])  # type: ignore[operator]
        print(f"{'baseline lost':<44}{base_lost:>12,}")
    if result["missed_kills"]:
        print(f"warning: the fleet ended before {result['missed_kills']} of the kills")
    print(
        f"bench faults: published={result['published']} acked={result['acked']} "
        f"landed_distinct={len(keys)} lost={lost} "  # type: ignore[arg-type]
        f"duplicates={result['duplicates']}"
    )
    ok = lost == 0 and result["acked"] == result["published"] and not result["missed_kills"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
