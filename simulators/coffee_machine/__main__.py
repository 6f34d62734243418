"""Run coffee machines: ``python -m simulators.coffee_machine --machines 2 --presses 20``.

Each press takes a photo (the bundled sample photos, ``--photos DIR`` or ``--camera N``)
and uploads it to the lake's photos store; that is all a machine does. The photo handler
(``iot_lake.coffee.photo_handler``) analyses it and writes the ``coffees`` row: on
``aws`` the Lambda that S3 notifies, on ``local`` the notifier that drains the events the
upload queued (``python -m iot_lake.coffee.local_notifier``).

    # 20 presses on 2 machines as fast as possible, then handle them
    PYTHONPATH=plugins python -m simulators.coffee_machine --presses 20 --rate 0
    PYTHONPATH=plugins python -m iot_lake.coffee.local_notifier
    # a morning rush: 3 machines, 2 presses per minute each, until Ctrl-C
    PYTHONPATH=plugins python -m simulators.coffee_machine --machines 3 --rate 2 --presses 0

On ``aws`` each machine buys temporary credentials with its thing certificate
(``<certs dir>/<machine id>/certificate.pem.crt`` + ``private.pem.key``) from the IoT
credentials provider (``--credentials-endpoint``, ``--role-alias``). The lake and backend
come from ``iot_lake.config``. Exit status 0 when every press landed, 1 when some failed
or the run was interrupted, 2 on bad usage.
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

from iot_lake.config import LakeSettings, settings
from simulators.coffee_machine.machine import (
    PHOTOS_DIR,
    Camera,
    CoffeeMachine,
    PhotoFolder,
    PressSummary,
    Uploader,
    local_uploader,
    machine_ids,
    s3_uploader,
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
    p.add_argument(
        "--credentials-endpoint",
        help="aws: the IoT credentials provider endpoint (aws iot describe-endpoint "
        "--endpoint-type iot:CredentialProvider)",
    )
    p.add_argument(
        "--role-alias", help="aws: the role alias (default <IOT_LAKE_NAME_PREFIX>-coffee-machine)"
    )
    p.add_argument(
        "--day", help="press on this UTC day (YYYY-MM-DD) instead of now, spread over the day"
    )
    p.add_argument("--seed", type=int, help="seed of the photo choice")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def uploader(lake: LakeSettings, machine_id: str, args: argparse.Namespace) -> Uploader:
    """Local: the local store's upload (queues the S3 event). aws: PutObject with the
    temporary credentials the machine's certificate buys."""
    if lake.is_local:
        return local_uploader(lake)
    from iot_lake.provisioning.coffee import device_role_alias
    from simulators.coffee_machine.credentials import DeviceCredentials, DeviceIdentity

    certs = Path(lake.certs_dir) / machine_id
    identity = DeviceIdentity(machine_id, certs / "certificate.pem.crt", certs / "private.pem.key")
    alias = args.role_alias or device_role_alias()
    session = DeviceCredentials(args.credentials_endpoint, alias, identity).session(lake.region)
    return s3_uploader(lake, session.client("s3", region_name=lake.region))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.machines < 1 or args.presses < 0 or args.rate < 0:
        parser().error("--machines must be >= 1, --presses and --rate >= 0")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    lake = settings()
    if not lake.is_local and not args.credentials_endpoint:
        parser().error("--credentials-endpoint is required on the aws backend")
    camera = Camera(args.camera) if args.camera is not None else PhotoFolder(args.photos, args.seed)
    machines = [
        CoffeeMachine(m, camera, uploader(lake, m, args)) for m in machine_ids(args.machines)
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
        f"coffee machines: {args.machines} on backend={lake.backend} "
        f"photos -> {lake.uri('photos')}\n"
    )
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
            summary.by_machine[press.machine_id] = summary.by_machine.get(press.machine_id, 0) + 1
            if not args.quiet:
                sys.stderr.write(
                    f"[{time.monotonic() - started:6.1f}s] {press.machine_id} "
                    f"{press.coffee_hour:%Y-%m-%d %H:%M:%S} {press.photo_uri}\n"
                )
        if interval:
            stop.wait(interval)
    elapsed = time.monotonic() - started
    for machine_id, count in sorted(summary.by_machine.items()):
        sys.stderr.write(f"  {machine_id}: {count} presses\n")
    for error in summary.errors[:10]:
        sys.stderr.write(f"  error: {error}\n")
    sys.stderr.write(f"{summary.line()} elapsed={elapsed:.1f}s\n")
    return 0 if summary.failed == 0 and not stop.is_set() else 1


if __name__ == "__main__":
    sys.exit(main())
