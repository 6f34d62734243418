"""Build the Mosquitto write-ahead-log plugin (``mosquitto_wal.c``) on this machine.

The plugin makes the broker write every message it accepts to the log before it
acknowledges it (see the C file); the rules engine reads that log. It is compiled here
against the installed broker's headers (Debian ``mosquitto-dev``, Alpine
``mosquitto-dev`` in the compose image) and rebuilt whenever the source is newer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from iot_lake.devices.pki import WAL_PLUGIN_FILE
from iot_lake.devices.pki import build_dir as lake_build_dir

SOURCE = Path(__file__).with_name("mosquitto_wal.c")
HEADER = Path("/usr/include/mosquitto_broker.h")


class PluginBuildError(RuntimeError):
    """The plugin could not be compiled (no C compiler or no Mosquitto headers)."""


def default_build_dir() -> Path:
    return lake_build_dir()


def plugin_path(build_dir: Path | None = None) -> Path:
    """The compiled plugin, built first if missing or older than its source."""
    out = (build_dir or default_build_dir()) / WAL_PLUGIN_FILE
    if out.is_file() and out.stat().st_mtime >= SOURCE.stat().st_mtime:
        return out
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise PluginBuildError("no C compiler: apt-get install gcc (scripts/bootstrap.sh does)")
    if not HEADER.is_file():
        raise PluginBuildError(
            f"{HEADER} is missing: apt-get install mosquitto-dev (scripts/bootstrap.sh does)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    result = subprocess.run(
        [compiler, "-O2", "-Wall", "-shared", "-fPIC", "-o", str(tmp), str(SOURCE)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise PluginBuildError(f"compiling {SOURCE.name} failed:\n{result.stderr}")
    tmp.replace(out)  # atomic: a broker starting meanwhile never loads half a file
    return out
