"""A photo event's life on both backends: how often it is tried, and where it goes after.

S3 invokes the photo Lambda asynchronously on ``aws``; the local notifier hands the same
events to the same handler on ``local`` and copies Lambda's policy, so what both sides
share is defined here once: the attempts and their spacing, the invocation record of an
event that failed for good, and the names of the function and of its on-failure queue
(the provisioning creates them, the replay command finds them by these names).
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MAX_ATTEMPTS = 3
"""Lambda's default for asynchronous invocation: the first attempt and two retries."""
RETRY_DELAYS_SECONDS = (60, 120)
"""Lambda waits one minute before the first retry and two minutes before the second."""
LOCAL_FUNCTION = "local:iot_lake.coffee.photo_handler.handler"


def queue_name(prefix: str) -> str:
    """The on-failure destination of the photo Lambda."""
    return f"{prefix}-coffee-photo-failed"


def failure_record(
    event: Mapping[str, Any],
    error: BaseException,
    *,
    attempts: int,
    function: str = LOCAL_FUNCTION,
    request_id: str = "",
    at: datetime | None = None,
) -> dict[str, Any]:
    """The invocation record Lambda sends to an on-failure destination, for ``event``.

    Field for field as AWS documents it (invocation-async-retain-records.html): a Python
    exception the function does not catch is an ``Unhandled`` function error, and the
    runtime reports it as ``errorMessage``/``errorType``/``requestId``/``stackTrace``.
    """
    when = (at or datetime.now(UTC)).astimezone(UTC)
    return {
        "version": "1.0",
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": function,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": dict(event),
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_tb(error.__traceback__),
        },
    }


def function_name(prefix: str) -> str:
    """The photo Lambda of the deployment named ``prefix``."""
    return f"{prefix}-coffee-photo"
