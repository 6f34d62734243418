"""What every AWS resource function receives: clients, the deployment's names, dry-run."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from iot_lake.provisioning.deployment import Deployment

T = TypeVar("T")


@dataclass
class AwsContext:
    """Clients from one boto3 session, plus whether to change anything at all.

    With ``dry_run`` the resource functions read and compare as usual but skip every
    mutating call, so the returned changes are the plan.
    """

    session: Any  # boto3.session.Session (kept untyped: boto3 is imported lazily)
    deployment: Deployment
    dry_run: bool = False
    endpoint_urls: dict[str, str] = field(default_factory=dict)
    # Seconds to wait between attempts while a new IAM role propagates (AWS needs ~10 s).
    propagation_delays: tuple[float, ...] = (2.0, 4.0, 8.0, 16.0)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service,
                region_name=self.deployment.settings.region,
                endpoint_url=self.endpoint_urls.get(service),
            )
        return self._clients[service]

    def retry_while_role_propagates(self, call: Callable[[], T], what: str) -> T:
        """Retry ``call`` while AWS says it cannot assume a role that was just created."""
        for delay in (*self.propagation_delays, None):
            try:
                return call()
            except ClientError as exc:
                message = error_message(exc).lower()
                role_not_ready = "role" in message and (
                    "assume" in message or "not authorized" in message or "trust" in message
                )
                if delay is None or not role_not_ready:
                    raise
                time.sleep(delay)
        raise AssertionError(f"unreachable: {what}")  # pragma: no cover


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))
