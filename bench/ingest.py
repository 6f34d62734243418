"""End-to-end ingest benchmark: publishers -> Mosquitto (mTLS, WAL) -> rules engine -> objects.

    uv run --frozen python bench/ingest.py                      # 3 runs of 200,000 messages
    uv run --frozen python bench/ingest.py --runs 1 --messages 6000 --workers 1
    uv run --frozen python bench/ingest.py --profile /tmp/ingest.prof   # py-spy, raw stacks

Five (``--publishers``) ``mosquitto_pub -l -q 1`` processes (C, 1000 in flight), each as
its own thing with its own certificate, publish ``--messages`` real ISD observations as
fast as the broker acknowledges them (the broker writes each to its WAL first). The rules
engine (``python -m simulators.iot_core``, both project rules, dynalite for the cold rule)
follows the WAL, routes and delivers them; once it has routed every message it gets
SIGTERM, which writes every buffer. The delivered GZIP objects are then read back and
every published message is looked for (a ``bench_seq`` field makes each one unique):
``lost`` counts those not found.

Baselines, measured in the same run, before each engine run, on fresh brokers: the same
publishers into ``mosquitto_sub -q 1`` (acknowledges at once, no rules, no delivery),
once with the broker's WAL plugin and once without it (what the broker's durable write
costs). The engine's CPU per message (start-up excluded) gives its ceiling per core, a
figure less sensitive to other load. Every figure is the median of ``--runs`` (3) runs.
Last line: ``bench ingest: msgs_per_s=N lost=N messages=N baseline_msgs_per_s=N ratio=R``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from simulators.iot_core import dynamodb_local  # noqa: E402
from simulators.iot_core.dynamodb import dynamodb_client, ensure_table  # noqa: E402
from simulators.things.broker import Broker, free_port, start_broker  # noqa: E402
from simulators.things.local import RULES_ENGINE, ensure_local_pki, thing_names  # noqa: E402

MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
MOSQUITTO_SUB = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
SEQ = re.compile(rb',"bench_seq":(\d+)\}$')


def _base_payloads(count: int = 2000) -> list[bytes]:
    import itertools

    from simulators.weather_station.message import encode, messages_from_files

    return [encode(m) for m in itertools.islice(messages_from_files(), count)]


def _write_inputs(work: Path, publishers: int, per_publisher: int) -> list[Path]:
    """One file per publisher: a unique message per line (real ISD observation + seq)."""
    bases = [p[:-1] for p in _base_payloads()]
    files = []
    for index in range(publishers):
        path = work / f"publisher-{index}.jsonl"
        with open(path, "wb") as out:
            out.writelines(
                bases[i % len(bases)] + b',"bench_seq":%d}\n' % (index * 10_000_000 + i)
                for i in range(per_publisher)
            )
        files.append(path)
    return files


def _run_publishers(broker, files: list[Path]) -> tuple[float, float]:
    """``mosquitto_pub -l -q 1``: each line one message, as its own thing; all acked at exit.

    The C client keeps up to 1000 messages in flight, so the publishers are not what limits
    the run (a Python client would be, on 2 cores).
    """
    procs = []
    start = time.time()
    for thing, path in zip(thing_names(len(files)), files, strict=True):
        cert, key = broker.credentials(thing)
        with open(path, "rb") as stdin:
            procs.append(
                subprocess.Popen(
                    [MOSQUITTO_PUB, "-h", broker.host, "-p", str(broker.port), "-i", thing,
                     "--cafile", str(broker.ca_file), "--cert", str(cert), "--key", str(key),
                     "-t", "sensor/weather", "-q", "1", "-M", "1000", "-l"],
                    stdin=stdin,
                )
            )  # fmt: skip
    for proc in procs:
        if proc.wait(timeout=300) != 0:
            raise SystemExit(f"mosquitto_pub exited with {proc.returncode}")
    return start, time.time()


def _wait_received(read_count, target: int, timeout: float) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if read_count() >= target:
            return time.time()
        time.sleep(0.05)
    raise SystemExit(f"consumer received {read_count()} of {target} within {timeout}s")


def baseline(work: Path, files: list[Path], total: int, wal: bool = True) -> float:
    """Same publishers into ``mosquitto_sub -q 1`` (C, acks at once, does nothing else)."""
    certs = work / f"baseline-certs-{'wal' if wal else 'nowal'}"
    shutil.rmtree(certs, ignore_errors=True)
    ensure_local_pki(certs, (*thing_names(len(files)), RULES_ENGINE))
    broker = Broker(certs, wal=wal).start()
    try:
        cert, key = broker.credentials(RULES_ENGINE)
        sub = subprocess.Popen(
            [MOSQUITTO_SUB, "-h", broker.host, "-p", str(broker.port), "-i", "bench-baseline",
             "--cafile", str(broker.ca_file), "--cert", str(cert), "--key", str(key),
             "-t", "sensor/weather", "-q", "1", "-C", str(total)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1.0)  # subscribed before the first publish
        start, _ = _run_publishers(broker, files)
        sub.wait(timeout=300)
        return total / (time.time() - start)
    finally:
        broker.stop()


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the engine and its worker processes so far."""
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for each in [proc, *proc.children(recursive=True)]:
        times = each.cpu_times()
        total += times.user + times.system
    return total


def _engine_received(log_path: Path) -> int:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    counts: dict[str, int] = {}
    for match in re.finditer(r"\[(\d+)\]: metrics rule=weather_to_firehose received=(\d+)", text):
        counts[match.group(1)] = int(match.group(2))
    return sum(counts.values())


def engine_run(work: Path, files: list[Path], args: argparse.Namespace) -> dict[str, float]:
    for old in ("certs", "dynalite", "lake"):
        shutil.rmtree(work / old, ignore_errors=True)
    broker = start_broker(work / "certs", (*thing_names(args.publishers), RULES_ENGINE))
    dyn_dir = work / "dynalite"
    endpoint = f"http://127.0.0.1:{free_port()}"
    dynamodb_local.start(endpoint, dyn_dir, table_ms=0)
    engine = None
    try:
        ensure_table(dynamodb_client(endpoint=endpoint), "weather_cold_readings")
        lake = work / "lake"
        env = {
            **os.environ,
            "IOT_LAKE_BACKEND": "local",
            "IOT_LAKE_HOME": str(lake),
            "IOT_LAKE_DYNAMODB_ENDPOINT": endpoint,
            "AIRFLOW_CONN_LAKE_DEFAULT": json.dumps({"conn_type": "generic", "extra": {}}),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")]),
        }
        log_path = work / "engine.log"
        command = [
            sys.executable, "-m", "simulators.iot_core",
            "--wal-dir", str(broker.wal_dir),
            "--workers", str(args.workers), "--metrics-interval", "0.25",
            "--buffer-interval", str(args.buffer_interval), "--gzip-level", str(args.gzip_level),
            "--log-level", "INFO",
        ]  # fmt: skip
        with open(log_path, "wb") as log:
            engine = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.time() + 60
        while log_path.read_text(errors="replace").count("reading the write-ahead") < args.workers:
            if time.time() > deadline or engine.poll() is not None:
                raise SystemExit(f"engine did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        spy = None
        if args.profile:  # sample the engine (and its workers) while it works
            spy = subprocess.Popen(
                [shutil.which("py-spy") or "py-spy", "record", "--format", "raw", "--pid",
                 str(engine.pid), "--subprocesses", "--rate", "200", "-o", str(args.profile)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1.0)
        cpu_before = _cpu_seconds(engine.pid)  # start-up (imports, boto3) not counted
        start, pub_end = _run_publishers(broker, files)
        acked = len(files) * args.messages
        received = _wait_received(lambda: _engine_received(log_path), acked, 120)
        cpu_s = _cpu_seconds(engine.pid) - cpu_before
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its samples
            spy.wait(60)
        engine.send_signal(signal.SIGTERM)  # flush every buffer
        engine.wait(60)
        done = time.time()
        if engine.returncode != 0:
            raise SystemExit(f"engine exited with {engine.returncode}:\n{log_path.read_text()}")
        expected = {
            index * 10_000_000 + i for index in range(len(files)) for i in range(args.messages)
        }
        seen: set[int] = set()
        lines = 0
        for path in (lake / "raw" / "weather").rglob("*.gz"):
            for line in gzip.decompress(path.read_bytes()).splitlines():
                lines += 1
                match = SEQ.search(line)
                if match:
                    seen.add(int(match.group(1)))
        objects = len(list((lake / "raw" / "weather").rglob("*.gz")))
        return {
            "published": acked,
            "delivered_lines": lines,
            "lost": len(expected - seen),
            "objects": objects,
            "publish_s": pub_end - start,
            "received_s": received - start,
            "end_to_end_s": done - start,
            "msgs_per_s": acked / (done - start),
            "engine_cpu_us_per_msg": cpu_s / acked * 1e6,
        }
    finally:
        if engine is not None and engine.poll() is None:
            os.killpg(engine.pid, signal.SIGKILL)  # the engine and its worker processes
        dynamodb_local.stop(dyn_dir)
        broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=40_000, help="per publisher")
    parser.add_argument("--publishers", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3, help="the figures are their median")
    parser.add_argument("--workers", type=int, default=2, help="engine worker processes")
    parser.add_argument("--buffer-interval", type=int, default=60)
    parser.add_argument("--gzip-level", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--profile", type=Path, help="record the engine with py-spy (collapsed stacks file)"
    )
    args = parser.parse_args()
    results: list[dict[str, float]] = []
    bases: list[float] = []
    bases_no_wal: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        files = _write_inputs(work, args.publishers, args.messages)
        total = args.publishers * args.messages
        for run in range(args.runs):
            if not args.no_baseline:
                bases_no_wal.append(baseline(work, files, total, wal=False))
                bases.append(baseline(work, files, total, wal=True))
            results.append(engine_run(work, files, args))
            line = f"run {run + 1}: engine {results[-1]['msgs_per_s']:,.0f} msg/s"
            if bases:
                line += f", bare subscriber {bases[-1]:,.0f} ({bases_no_wal[-1]:,.0f} w/o WAL)"
            print(line + f", lost {int(results[-1]['lost'])}", flush=True)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in results)

    rate = median("msgs_per_s")
    lost = max(int(r["lost"]) for r in results)
    print()
    print(f"{'measure (median of ' + str(len(results)) + ' runs)':<40}{'value':>14}")
    print("-" * 54)
    for name in ("published", "delivered_lines", "objects"):
        print(f"{name:<40}{int(median(name)):>14,}")
    print(f"{'lost (worst run)':<40}{lost:>14,}")
    print(f"{'publishing time (s)':<40}{median('publish_s'):>14.1f}")
    print(f"{'all routed by the engine (s)':<40}{median('received_s'):>14.1f}")
    print(f"{'end to end time (s)':<40}{median('end_to_end_s'):>14.1f}")
    print(f"{'engine, end to end (msg/s)':<40}{rate:>14,.0f}")
    cpu = median("engine_cpu_us_per_msg")
    print(f"{'engine CPU per message (us)':<40}{cpu:>14,.1f}")
    print(f"{'engine ceiling per core (msg/s)':<40}{1e6 / cpu:>14,.0f}")
    tail = ""
    if bases:
        base, base_no_wal = statistics.median(bases), statistics.median(bases_no_wal)
        print(f"{'baseline: bare subscriber (msg/s)':<40}{base:>14,.0f}")
        print(f"{'baseline without the broker WAL (msg/s)':<40}{base_no_wal:>14,.0f}")
        print(f"{'ratio engine / baseline':<40}{rate / base:>14.2f}")
        print(f"{'ratio baseline with / without WAL':<40}{base / base_no_wal:>14.2f}")
        tail = f" baseline_msgs_per_s={base:.0f} ratio={rate / base:.2f}"
    print(f"{'goal (msg/s)':<40}{20_000:>14,}")
    print(
        f"bench ingest: msgs_per_s={rate:.0f} lost={lost} "
        f"messages={int(median('published'))} runs={len(results)}{tail}"
    )
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
