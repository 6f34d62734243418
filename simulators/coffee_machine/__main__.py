"""Run coffee machines: ``python -m simulators.coffee_machine --machines 2 --presses 20``.

Each press takes a photo (the bundled sample photos, ``--photos DIR`` or ``--camera N``),
uploads it to the lake's photos store, analyses it (``--analyzer local``: OpenCV Haar
cascades; ``aws``: Rekognition DetectFaces) and inserts a row into ``coffees``.

    # 20 presses on 2 machines as fast as possible, creating the table if missing
    PYTHONPATH=plugins python -m simulators.coffee_machine --create-schema --presses 20 --rate 0
    # a morning rush: 3 machines, 2 presses per minute each, until Ctrl-C
    PYTHONPATH=plugins python -m simulators.coffee_machine --machines 3 --rate 2 --presses 0

The MySQL target is ``--mysql`` or ``AIRFLOW_CONN_COFFEE_MYSQL`` (URI or JSON, the DAG's
connection) or mysql://root@127.0.0.1:3306/iot_lake. The lake and backend come from
``iot_lake.config`` (``IOT_LAKE_BACKEND``, ``IOT_LAKE_PHOTOS_URI`` ...). Exit status 0
when every press landed, 1 when some failed or the run was interrupted, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from iot_lake.config import settings
from simulators.coffee_machine.faces import analyzer_for
from simulators.coffee_machine.machine import (
    PHOTOS_DIR,
    Camera,
    CoffeeMachine,
    PhotoFolder,
    PressSummary,
    connect,
    machine_ids,
    mysql_params,
)

log = logging.getLogger("simulators.coffee_machine")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulators.coffee_machine", description=__doc__)
    p.add_argument("--machines", type=int, default=2, help="number of machines (default 2)")
    p.add_argument("--presses", type=int, default=10, help="total presses; 0 = until Ctrl-C")
    p.add_argument(
        "--rate",
        type=float,
        default=6.0,
        help="presses per minute per machine (default 6); 0 = as fast as possible",
    )
    p.add_argument("--photos", type=Path, default=PHOTOS_DIR, help="folder of photos")
    p.add_argument("--camera", type=int, help="OpenCV camera index instead of --photos")
    p.add_argument("--analyzer", choices=("local", "aws"), help="default: the lake backend")
    p.add_argument("--mysql", help="MySQL URL or Airflow connection JSON")
    p.add_argument("--create-schema", action="store_true", help="create database/table first")
    p.add_argument(
        "--day", help="press on this UTC day (YYYY-MM-DD) instead of now, spread over the day"
    )
    p.add_argument("--seed", type=int, help="seed of the photo choice")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.machines < 1 or args.presses < 0 or args.rate < 0:
        parser().error("--machines must be >= 1, --presses and --rate >= 0")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    lake = settings()
    analyzer = analyzer_for(args.analyzer or lake.backend, region=lake.region)
    camera = Camera(args.camera) if args.camera is not None else PhotoFolder(args.photos, args.seed)
    connection = connect(mysql_params(args.mysql), create_schema=args.create_schema)
    machines = [
        CoffeeMachine(m, camera, analyzer, lake, connection) for m in machine_ids(args.machines)
    ]
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    summary = PressSummary()
    interval = 60.0 / (args.rate * args.machines) if args.rate else 0.0
    day = datetime.fromisoformat(args.day).replace(tzinfo=UTC) if args.day else None
    total = args.presses or None
    started = time.monotonic()
    sys.stderr.write(
        f"coffee machines: {args.machines} on backend={lake.backend} analyzer={analyzer.name} "
        f"photos -> {lake.uri('photos')}\n"
    )
    try:
        for n in itertools.count():
            if stop.is_set() or (total is not None and n >= total):
                break
            machine = machines[n % len(machines)]
            when = day + timedelta(seconds=(n * 86_399) // (total or 86_399)) if day else None
            try:
                press = machine.press(when)
            except Exception as err:  # keep pressing; every failure is counted and shown
                summary.failed += 1
                summary.errors.append(f"{machine.machine_id}: {type(err).__name__}: {err}")
                log.warning("press on %s failed: %s", machine.machine_id, err)
            else:
                summary.presses += 1
                summary.faces += bool(press.attributes["has_face"])
                summary.smiles += bool(press.attributes["smile"])
                summary.by_machine[press.machine_id] = (
                    summary.by_machine.get(press.machine_id, 0) + 1
                )
                if not args.quiet:
                    flags = " ".join(
                        f"{k}={'?' if press.attributes[k] is None else press.attributes[k]}"
                        for k in ("has_face", "smile", "beard", "mustache", "glasses")
                    )
                    sys.stderr.write(
                        f"[{time.monotonic() - started:6.1f}s] #{press.id} {press.machine_id} "
                        f"{press.coffee_hour:%Y-%m-%d %H:%M:%S} {flags}\n"
                    )
            if interval:
                stop.wait(interval)
    finally:
        connection.close()
    elapsed = time.monotonic() - started
    for machine_id, count in sorted(summary.by_machine.items()):
        sys.stderr.write(f"  {machine_id}: {count} presses\n")
    for error in summary.errors[:10]:
        sys.stderr.write(f"  error: {error}\n")
    sys.stderr.write(f"{summary.line()} elapsed={elapsed:.1f}s\n")
    return 0 if summary.failed == 0 and not stop.is_set() else 1


if __name__ == "__main__":
    sys.exit(main())
