"""``python -m simulators.iot_core``: run the local rules engine until SIGTERM/Ctrl-C.

The engine follows the broker's write-ahead log (``--wal-dir``, default
``<home>/iot_core/wal``, where the broker's ``mosquitto_wal`` plugin writes). With
``--workers N`` (N > 1) the command starts N worker processes that split the log's
segments between them, each with its own delivery buffers, and forwards SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from simulators.iot_core.delivery import (
    DEFAULT_INTERVAL_S,
    DEFAULT_SIZE_MIB,
    BufferingHints,
    DeliveryConfigError,
)

log = logging.getLogger("simulators.iot_core")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.iot_core",
        description="Local IoT Core rules engine with Firehose-faithful delivery.",
    )
    parser.add_argument("--rules-dir", type=Path, help="rule files (default include/iot/rules)")
    parser.add_argument("--raw-uri", help="delivery destination (default settings().uri('raw'))")
    parser.add_argument(
        "--wal-dir", type=Path, help="the broker's write-ahead log (default <home>/iot_core/wal)"
    )
    parser.add_argument("--dynamodb-endpoint", help="default: settings().dynamodb_endpoint")
    parser.add_argument(
        "--buffer-size",
        type=int,
        default=DEFAULT_SIZE_MIB,
        help=f"Firehose SizeInMBs, 1-128 (default {DEFAULT_SIZE_MIB})",
    )
    parser.add_argument(
        "--buffer-interval",
        type=int,
        default=DEFAULT_INTERVAL_S,
        help=f"Firehose IntervalInSeconds, 0-900 (default {DEFAULT_INTERVAL_S}); "
        "use a few seconds in demos",
    )
    parser.add_argument("--gzip-level", type=int, default=6, choices=range(1, 10))
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the log")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--batch", type=int, default=2000, help="most messages through the rules at once"
    )
    parser.add_argument(
        "--metrics-interval", type=float, default=60.0, help="seconds between metrics log lines"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def _run_worker(args: argparse.Namespace, worker: int) -> int:
    from simulators.iot_core.service import RulesService, ServiceOptions, install_signal_handlers

    options = ServiceOptions.from_settings(
        rules_dir=args.rules_dir,
        raw_uri=args.raw_uri,
        wal_dir=args.wal_dir,
        dynamodb_endpoint=args.dynamodb_endpoint,
        hints=BufferingHints(args.buffer_size, args.buffer_interval),
        gzip_level=args.gzip_level,
        worker=worker,
        workers=args.workers,
        batch=args.batch,
        metrics_interval_s=args.metrics_interval,
        parent_pid=os.getppid() if args.worker is not None and args.workers > 1 else None,
    )
    service = RulesService(options)
    install_signal_handlers([service])
    service.run()
    return 0


def _run_workers(args: argparse.Namespace, argv: list[str]) -> int:
    children = [
        subprocess.Popen([sys.executable, "-m", "simulators.iot_core", *argv, "--worker", str(i)])
        for i in range(args.workers)
    ]

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max(codes, key=abs)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
    )
    try:
        BufferingHints(args.buffer_size, args.buffer_interval)
    except DeliveryConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.worker is not None:
        return _run_worker(args, args.worker)
    if args.workers > 1:
        return _run_workers(args, argv)
    return _run_worker(args, 0)


def _exit(code: int) -> None:
    """Leave without the interpreter's teardown (0.1-0.5 s of module finalisation).

    By now everything the engine holds is durable: objects written and fsynced, delivered
    WAL segments deleted, flusher thread joined; only log handlers need a flush.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
