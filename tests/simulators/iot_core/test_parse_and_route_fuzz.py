"""Fuzz the parse-and-route path: whatever a device sends, the engine neither raises nor
drops it. Every message either lands in the Firehose buffer (a strict-JSON object, as sent)
or reaches each rule's error action with a reason and its payload.

Real dynalite for the cold-readings rule, real files for the error objects.
"""

from __future__ import annotations

import base64
import json
import math
import sys

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulators.iot_core.engine import MAX_PAYLOAD_BYTES, parse_payload
from tests.fixtures.ingest import dynamodb_local
from tests.simulators.iot_core.test_engine import Harness, harness

__all__ = ["dynamodb_local", "harness"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and +-Infinity included: json.dumps writes them as literals
    | st.text(max_size=20)
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
observations = st.fixed_dictionaries(
    {
        "weather_station": st.text(max_size=12) | st.integers() | st.none(),
        "time": st.text(max_size=25) | st.integers() | st.none(),
        "air_temperature": st.fixed_dictionaries({"value": st.floats() | st.none()})
        | st.integers()
        | st.text(max_size=4),
    }
)
json_texts = (documents | observations).map(lambda d: json.dumps(d).encode())
nested = st.integers(min_value=1, max_value=5000).map(lambda n: b"[" * n + b"]" * n)
payloads = st.one_of(json_texts, st.binary(max_size=200), nested, json_texts.map(lambda b: b[:-1]))


def _error_files(harness: Harness) -> set:
    return set((harness.raw_dir / "errors").rglob("*.json"))


def _strict_object(payload: bytes) -> bool:
    """The oracle: strict RFC 8259 JSON, a finite object, within depth and size limits."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return False

    def refuse(name: str) -> float:
        raise ValueError(name)

    if _depth(payload) > 1024:  # orjson's documented limit
        return False
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)  # json's own limit (~1000) is below orjson's
    try:
        doc = json.loads(payload.decode("utf-8"), parse_constant=refuse)
        return isinstance(doc, dict) and _finite(doc)
    except (ValueError, RecursionError):
        return False
    finally:
        sys.setrecursionlimit(limit)


def _depth(text: bytes) -> int:
    """Deepest bracket nesting outside strings (a scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(payloads, min_size=1, max_size=5))
@example([b"[" * 100_000 + b"]" * 100_000])
@example([b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e999}'])
@example([b"\xff\xfe", b'{"a": "\xed\xa0\x80"}', b"", b"null", b'"x"', b"[]"])
@example([b'{"a": "' + b"x" * (MAX_PAYLOAD_BYTES + 1) + b'"}'])
@example([b'{"time": "2024-01-01T00:00:00Z", "air_temperature": {"value": -10}}'])
def test_no_payload_stops_the_engine_or_disappears(harness: Harness, batch: list[bytes]) -> None:
    before_errors = _error_files(harness)
    before_buffered = sum(
        len(b.chunks)
        for b in harness.stream._buffers.values()
    )
    harness.send(*batch)  # must not raise
    accepted = [p for p in batch if _strict_object(p)]
    refused = [p for p in batch if not _strict_object(p)]
    for payload in batch:
        _, problem = parse_payload(payload)
        assert (problem is None) == _strict_object(payload), (payload[:80], problem)
    buffered = sum(len(b.chunks) for b in harness.stream._buffers.values()) - before_buffered
    errors = [json.loads(p.read_text()) for p in sorted(_error_files(harness) - before_errors)]
    errored_payloads = [base64.b64decode(e["base64OriginalPayload"]) for e in errors]
    # Each refused payload reached the error action of both rules, with a reason.
    for payload in refused:
        assert errored_payloads.count(payload) >= 2 * refused.count(payload)
    assert all(e["failures"][0]["errorMessage"] for e in errors)
    # Each accepted object is in the Firehose buffer (or errored for a reason of its own,
    # e.g. a cold reading without its key for the DynamoDB rule only).
    assert buffered == len(accepted)
