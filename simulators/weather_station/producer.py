"""Parse and encode a replay schedule in a separate process (used at ``--speed max``).

At full speed parsing ISD and encoding JSON costs more CPU than publishing, so the fleet
runs this module as a child (``python -m simulators.weather_station.producer``) and
publishes on its own core. The child is a plain subprocess in its own session: it never
re-imports the caller's main script (as multiprocessing's spawn would) and a terminal's
Ctrl-C reaches only the parent, which stops the child by closing the pipe.

Protocol (trusted, parent <-> own child): the parent pickles ``(stations, options, now)``
to stdin; the child pickles lists of ``(offset, station index, payload)`` to stdout and
finally a dict ``{thing: (skipped lines, observations)}``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulators.weather_station.isd import ParseStats
from simulators.weather_station.replay import BATCH, chunked, merged_payloads

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import datetime as dt

    from simulators.weather_station.replay import ReplayOptions, Station

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PIPE_SIZE = 1 << 20


class ProducerError(RuntimeError):
    """The producer process failed; the message carries its exit code and stderr."""


def produce(
    stations: Sequence[Station], options: ReplayOptions, now: dt.datetime, out: Any
) -> None:
    """Write the pickled schedule batches, then the parse stats, to the binary ``out``."""
    stats = {s.thing: ParseStats() for s in stations}
    for batch in chunked(merged_payloads(stations, options, stats, now), BATCH):
        pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
    pickle.dump({n: (s.skipped, s.observations) for n, s in stats.items()}, out)
    out.flush()


def _widen_pipe(stream: Any) -> None:
    """Let the child run ahead of the publisher by ~1 MB (Linux pipes hold 64 KB, about
    100 messages): it then also gets ahead while the clients connect. Best effort."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep 64 KB
        fcntl.fcntl(stream.fileno(), set_size, PIPE_SIZE)


class ProducerProcess:
    """The child process and the parent's end of its pipe."""

    def __init__(
        self, stations: Sequence[Station], options: ReplayOptions, now: dt.datetime
    ) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulators.weather_station.producer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            bufsize=PIPE_SIZE,
        )
        _widen_pipe(self.process.stdout)
        assert self.process.stdin is not None
        pickle.dump((list(stations), options, now), self.process.stdin)
        self.process.stdin.close()
        self._stderr: list[bytes] = []
        # Drain stderr in the background so a chatty child (bad-line warnings) never blocks.
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            sys.stderr.buffer.write(line)
            self._stderr.append(line)
            del self._stderr[:-20]

    def items(self, stats: dict[str, ParseStats]) -> Iterator[tuple[float, int, bytes]]:
        """The schedule in order; fills ``stats`` at the end."""
        for batch in self.batches(stats):
            yield from batch

    def batches(self, stats: dict[str, ParseStats]) -> Iterator[list[tuple[float, int, bytes]]]:
        """The schedule in order, as the child's batches; fills ``stats`` at the end."""
        assert self.process.stdout is not None
        while True:
            try:
                item = pickle.load(self.process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                code = self.process.wait(timeout=10)
                self._reader.join(timeout=2)
                raise ProducerError(
                    f"the ISD producer process ended early (exit code {code}, {exc!r}): "
                    + b"".join(self._stderr).decode(errors="replace")[-2000:]
                ) from None
            if isinstance(item, dict):
                for name, (skipped, observations) in item.items():
                    stats[name].skipped = skipped
                    stats[name].observations = observations
                return
            yield item

    def close(self) -> None:
        """Stop the child if it is still running and reap it."""
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=2)


def main() -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    stations, options, now = pickle.load(sys.stdin.buffer)
    try:
        produce(stations, options, now, sys.stdout.buffer)
    except BrokenPipeError:  # the parent stopped reading: an early stop, not an error
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
