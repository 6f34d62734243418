"""Run the weather-station fleet: ``python -m simulators.weather_station --stations 5``.

Examples::

    # what the stations would send, as JSON lines, no broker needed
    python -m simulators.weather_station --dry-run --speed max --files FILE.gz
    # 5 stations against the local Mosquitto, 24 h of observations as fast as possible,
    # timestamps moved so the replayed day ends now
    python -m simulators.weather_station --stations 5 --hours 24 --speed max --rebase end
    # AWS IoT Core
    python -m simulators.weather_station --endpoint XXXX-ats.iot.us-east-1.amazonaws.com \\
        --ca-file certs/AmazonRootCA1.pem

Defaults for the broker come from the environment (``IOT_LAKE_MQTT_HOST``,
``IOT_LAKE_MQTT_PORT``, ``IOT_LAKE_CERTS_DIR``) and the documented defaults of
``iot_lake.config`` (127.0.0.1:8883, ``<repo>/certs``). Exit status: 0 when every message
was acknowledged, 1 when some failed or the run was interrupted, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from simulators.things.local import CA_CERT, WEATHER_TOPIC, device_defaults, thing_names
from simulators.weather_station.fleet import (
    BrokerTarget,
    FleetSummary,
    aws_iot_rate_limit,
    dry_run,
    run_fleet,
)
from simulators.weather_station.message import DEFAULT_FILES, default_files
from simulators.weather_station.replay import REBASE_MODES, FleetError, ReplayOptions, Station

log = logging.getLogger("simulators.weather_station")


def _speed(text: str) -> float | None:
    if text.lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed must be a number or 'max', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("speed must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    host, port, certs = device_defaults()
    parser = argparse.ArgumentParser(
        prog="python -m simulators.weather_station",
        description="Replay real NOAA ISD observations as a fleet of MQTT weather stations.",
    )
    parser.add_argument(
        "--stations",
        type=int,
        default=None,
        help=f"number of stations (default 5; at most {len(DEFAULT_FILES)} "
        "with the bundled files, or the number of --files)",
    )
    parser.add_argument(
        "--files",
        nargs="+",
        type=Path,
        default=None,
        help="ISD files to replay, one per station (plain or .gz); "
        "default: the bundled real station files",
    )
    parser.add_argument(
        "--things",
        nargs="+",
        default=None,
        help="thing names, one per station (default weather-station-01..N)",
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=3600.0,
        help="replay speed factor (3600 = an hour per second) or 'max' (default 3600)",
    )
    parser.add_argument(
        "--hours",
        type=float,
        default=None,
        help="replay only the first N hours of each station's file",
    )
    parser.add_argument(
        "--rebase",
        choices=REBASE_MODES,
        default="none",
        help="shift timestamps: 'start' = first observation at now, 'end' = by whole "
        "days so the last replayed observation falls in the day before now, keeping "
        "each reading's time of day (default none: original times)",
    )
    parser.add_argument("--endpoint", default=host, help=f"MQTT broker host (default {host})")
    parser.add_argument("--port", type=int, default=port, help=f"MQTT port (default {port})")
    parser.add_argument(
        "--certs-dir",
        type=Path,
        default=certs,
        help=f"where <thing>/certificate.pem.crt live (default {certs})",
    )
    parser.add_argument(
        "--ca-file",
        default=None,
        help="CA bundle to trust: default <certs-dir>/ca.crt when it exists, "
        "else the system store (which holds Amazon Root CA 1); 'system' "
        "forces the system store",
    )
    parser.add_argument("--topic", default=WEATHER_TOPIC, help=argparse.SUPPRESS)
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=1000,
        help="unacknowledged QoS 1 messages allowed per station (default 1000)",
    )
    parser.add_argument(
        "--max-rate-per-station",
        type=float,
        default=None,
        help="publishes per second per station (connection); default: 100 against an AWS "
        "IoT Core endpoint (its per-connection limit), else unlimited; 0 = unlimited",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for acknowledgements at the end (default 30)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="write the messages as JSON lines to stdout, publish nothing",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def resolve_stations(args: argparse.Namespace) -> list[Station]:
    files = list(args.files) if args.files else default_files()
    count = args.stations if args.stations is not None else min(5, len(files))
    if count < 1:
        raise FleetError("--stations must be at least 1")
    if count > len(files):
        raise FleetError(
            f"--stations {count} needs {count} ISD files but only {len(files)} are available; "
            "pass more with --files (replaying one file from two things would duplicate "
            "observations downstream)"
        )
    for path in files[:count]:
        if not Path(path).is_file():
            raise FleetError(f"ISD file not found: {path}")
    things = list(args.things) if args.things else thing_names(count)
    if len(things) != count:
        raise FleetError(f"--things names {len(things)} things for {count} stations")
    return [Station(t, Path(f)) for t, f in zip(things, files[:count], strict=True)]


def _ca_file(args: argparse.Namespace) -> Path | None:
    if args.ca_file == "system":
        return None
    if args.ca_file:
        path = Path(args.ca_file)
        if not path.is_file():
            raise FleetError(f"CA file not found: {path}")
        return path
    local = Path(args.certs_dir) / CA_CERT
    return local if local.is_file() else None


class _Progress:
    """One status line, rewritten in place on a terminal, printed every 5 s otherwise."""

    def __init__(self, stream=sys.stderr) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream
        self.tty = stream.isatty()
        self.ticks = 0

    def __call__(self, summary: FleetSummary) -> None:
        self.ticks += 1
        in_flight = summary.published - summary.acknowledged - summary.failed
        text = (
            f"published={summary.published} acked={summary.acknowledged} "
            f"failed={summary.failed} in_flight={in_flight} "
            f"rate={summary.rate:.0f}/s elapsed={summary.elapsed:.0f}s"
        )
        if self.tty:
            self.stream.write("\r" + text.ljust(100))
            self.stream.flush()
        elif self.ticks % 5 == 0:
            self.stream.write(text + "\n")

    def close(self) -> None:
        if self.tty and self.ticks:
            self.stream.write("\n")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # second Ctrl-C: give up waiting
        log.warning("stopping: no new messages; waiting for in-flight acknowledgements")
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stations = resolve_stations(args)
        options = ReplayOptions(speed=args.speed, hours=args.hours, rebase=args.rebase)
        if args.dry_run:
            out = sys.stdout.buffer
            summary = dry_run(stations, options, out.write, stop)
            out.flush()
        else:
            target = BrokerTarget(
                endpoint=args.endpoint,
                port=args.port,
                certs_dir=Path(args.certs_dir),
                ca_file=_ca_file(args),
                topic=args.topic,
                max_in_flight=args.max_in_flight,
                drain_timeout=args.drain_timeout,
                max_publish_rate=aws_iot_rate_limit(args.endpoint, args.max_rate_per_station),
            )
            if target.pacing:
                sys.stderr.write(target.pacing + "\n")
            progress = None if args.quiet else _Progress()
            log.info(
                "replaying %d station(s) to %s:%d at speed %s",
                len(stations),
                target.endpoint,
                target.port,
                args.speed or "max",
            )
            try:
                summary = run_fleet(stations, options, target, stop=stop, progress=progress)
            finally:
                if progress is not None:
                    progress.close()
    except FleetError as exc:
        log.error("%s", exc)
        return 2
    except BrokenPipeError:  # dry run piped into `head`
        return 0
    sys.stderr.write(summary.table() + "\n")
    for error in summary.errors:
        log.error("%s", error)
    sys.stderr.write(summary.line() + "\n")
    return 0 if summary.ok and not summary.interrupted else 1


if __name__ == "__main__":
    sys.exit(main())
