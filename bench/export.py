"""Export one day of coffees from MariaDB to GZIP Parquet: the project's streamed export
against an SqlToS3Operator-style baseline, rows/s and peak RSS, in the same run.

The baseline does what ``SqlToS3Operator`` does: ``MySqlHook.get_df`` (pandas
``read_sql`` of the whole day), the operator's own dtype fixes, ``to_parquet`` into an
in-memory buffer, then one upload (here: one file write). The project's export is
``iot_lake.coffee.export.export_day`` (server-side cursor, Arrow batches, staged
partition). Each run happens in its own subprocess and reports its own peak RSS: the
``VmHWM`` of ``/proc/self/status`` read at the end of the worker (the high-water mark of
the worker's own address space, which exec starts afresh). ``ru_maxrss`` is not used: on
Linux it survives exec, so a worker started by ``subprocess`` reports the parent's peak
from before the exec when that was higher. Both import Airflow's MySQL hook, so the fixed
part of the footprint is the same on both sides.

    python bench/export.py                 # quick: 200k rows, well under a minute
    python bench/export.py --full          # 1M and 4M rows (several minutes)
    python bench/export.py --rows 2000000  # any sizes

Needs MariaDB on 127.0.0.1:3306 (root, no password; ``--host/--port/--user``); a
throw-away database is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 20)
QUICK_ROWS = (200_000,)
FULL_ROWS = (1_000_000, 4_000_000)

WORKER = r"""
import json, os, sys, time
from datetime import datetime, timedelta
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/plugins"]
kind, day, out_dir = sys.argv[2], sys.argv[3], sys.argv[4]
start = datetime.fromisoformat(day)
end = start + timedelta(days=1)
# Imports and configuration are outside the clock on both sides (this machine may run
# with PYTHONDONTWRITEBYTECODE, which makes the Airflow imports alone take seconds).
from airflow.providers.mysql.hooks.mysql import MySqlHook
if kind == "project":
    from iot_lake.coffee.export import export_day
    from iot_lake.config import settings
    import pandas, pyarrow.parquet  # pyarrow imports pandas on its first conversion
    settings()
    began = time.perf_counter()
    result = export_day(day, start, end)
    rows = result.exported + result.rejected
else:
    import io
    import pandas, pyarrow.parquet
    from airflow.providers.amazon.aws.transfers.sql_to_s3 import FILE_FORMAT, SqlToS3Operator
    from iot_lake.coffee.source import aurora_sql
    hook = MySqlHook(mysql_conn_id="coffee_mysql")
    began = time.perf_counter()
    df = hook.get_df(aurora_sql("export_coffees"), parameters={"start": start, "end": end})
    SqlToS3Operator._fix_dtypes(df, FILE_FORMAT.PARQUET)
    buf = io.BytesIO()
    df.to_parquet(buf, compression="gzip")
    with open(os.path.join(out_dir, "baseline.parquet"), "wb") as handle:
        handle.write(buf.getbuffer())
    rows = len(df)
seconds = time.perf_counter() - began
with open("/proc/self/status") as status:  # this process's own high-water mark
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": peak_kib / 1024}))
"""


def mysql(args: argparse.Namespace, database: str = ""):
    import MySQLdb

    return MySQLdb.connect(
        host=args.host, port=args.port, user=args.user, passwd=args.password, db=database
    )


def fill(args: argparse.Namespace, database: str, rows: int) -> None:
    """(Re)load the coffees table with ``rows`` presses on DAY."""
    sql_dir = ROOT / "include" / "sql" / "aurora"
    conn = mysql(args, database)
    try:
        cur = conn.cursor()
        cur.execute("DROP TABLE IF EXISTS coffees")  # plumbing: a fresh table per size
        cur.execute((sql_dir / "coffees.sql").read_text())
        cur.execute(
            (sql_dir / "generate_coffees.sql").read_text(),
            {"day": datetime.combine(DAY, datetime.min.time()), "rows": rows},
        )
        conn.commit()
    finally:
        conn.close()


def run(kind: str, env: dict[str, str], out_dir: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(ROOT), kind, DAY.isoformat(), out_dir],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1M and 4M rows")
    parser.add_argument("--rows", type=int, nargs="+", help="row counts to run")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3306)
    parser.add_argument("--user", default="root")
    parser.add_argument("--password", default="")
    args = parser.parse_args()
    sizes = args.rows or (FULL_ROWS if args.full else QUICK_ROWS)

    database = f"iot_lake_bench_{uuid.uuid4().hex[:8]}"
    admin = mysql(args)
    admin.cursor().execute(f"CREATE DATABASE `{database}`")
    results: list[tuple[int, dict[str, float], dict[str, float]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
            env = {
                **os.environ,
                "AIRFLOW_HOME": os.path.join(tmp, "airflow"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW_CONN_COFFEE_MYSQL": json.dumps(
                    {
                        "conn_type": "mysql",
                        "host": args.host,
                        "port": args.port,
                        "login": args.user,
                        "password": args.password,
                        "schema": database,
                    }
                ),
                "IOT_LAKE_BACKEND": "local",
                "IOT_LAKE_HOME": os.path.join(tmp, "lake"),
            }
            for rows in sizes:
                fill(args, database, rows)
                project = run("project", env, tmp)
                baseline = run("baseline", env, tmp)
                if project["rows"] != rows or baseline["rows"] != rows:
                    raise SystemExit(f"row counts differ: {rows=} {project=} {baseline=}")
                results.append((rows, project, baseline))
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.close()

    print(f"{'rows':>10} {'side':<9} {'seconds':>8} {'rows/s':>10} {'peak MiB':>9}")
    for rows, project, baseline in results:
        for side, r in (("project", project), ("baseline", baseline)):
            rate = rows / r["seconds"]
            print(f"{rows:>10} {side:<9} {r['seconds']:>8.2f} {rate:>10.0f} {r['peak_mib']:>9.1f}")
    rows, project, baseline = results[-1]
    speedup = baseline["seconds"] / project["seconds"]
    rss_ratio = project["peak_mib"] / baseline["peak_mib"]
    growth = (
        f" project_rss_growth={results[-1][1]['peak_mib'] / results[0][1]['peak_mib']:.2f}"
        if len(results) > 1
        else ""
    )
    print(f"bench export: speedup={speedup:.2f} rss_ratio={rss_ratio:.3f} rows={rows}{growth}")


if __name__ == "__main__":
    main()
