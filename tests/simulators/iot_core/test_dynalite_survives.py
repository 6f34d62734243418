"""The local DynamoDB endpoint outlives a client killed in the middle of a request.

dynalite 3 throws on a request aborted by its client; a `kill -9` of the ingest service
during a BatchWriteItem ended the endpoint, and every later cold reading went to the
error action. `serve.js` keeps it serving. Real dynalite, real aborted connections.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest

from simulators.iot_core import dynamodb_local as dynalite
from simulators.things.broker import free_port


@pytest.mark.services  # dynalite runs on Node.js (Debian's nodejs, npm)
def test_dynalite_keeps_serving_after_clients_vanish_mid_request(tmp_path: Path) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    dynalite.start(endpoint, tmp_path, table_ms=0)
    try:
        for _ in range(3):  # half a request, then a TCP reset: what a killed client leaves
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\n"
                b"X-Amz-Target: DynamoDB_20120810.BatchWriteItem\r\nContent-Length: 100000\r\n"
                b"\r\n" + b"{" * 1000
            )
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        assert dynalite.is_up(endpoint)
        assert "went away mid-request" in (tmp_path / dynalite.LOG_FILE).read_text()
    finally:
        dynalite.stop(tmp_path)
