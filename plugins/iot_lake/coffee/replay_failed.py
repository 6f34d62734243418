"""Photo events the handler failed on: kept, visible, replayed by one command on both backends.

``aws``: S3 invokes the photo Lambda asynchronously. When the function raises, Lambda
runs it two more times (one minute, then two minutes later) and then discards the event
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html);
the press never reaches Aurora, so the reconciliation cannot miss it. The function
therefore has an on-failure destination, the SQS queue ``<prefix>-coffee-photo-failed``
(provisioned by ``iot_lake.provisioning.coffee``): Lambda sends it an invocation record
with the event (``requestPayload``) and the error (``responsePayload``)
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
A CloudWatch alarm fires while the queue holds a message.

``local``: the notifier (``iot_lake.coffee.local_notifier``) tries an event three times
with the same spacing, then writes the same invocation record to
``<home>/events/photos/failed/``.

Either way the records show on the Incidents page (``iot_lake.incidents``) and

    python -m iot_lake.coffee.replay_failed           # replay every failed event
    python -m iot_lake.coffee.replay_failed --list    # only show them

hands each event to the handler again: on ``aws`` by invoking the function synchronously
(its code, its role; ``--in-process`` runs the handler here instead), on ``local`` in
process. A record is removed (the SQS message deleted, the file moved to ``done/``) only
after the handler returned, i.e. the press is in MySQL (inserted now, or already there:
the insert is idempotent on ``photo_key``). A record whose event fails again, or names
no press, stays for the next replay.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote_plus

from iot_lake.coffee.photo_events import function_name, queue_name
from iot_lake.config import LakeSettings, settings

log = logging.getLogger(__name__)

Invoke = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""Run the handler on one event; returns its result, raises when it failed."""

RECEIVE_VISIBILITY_SECONDS = 900
"""How long a received batch stays hidden while its events are replayed: ten synchronous
invokes of a function with a 30 s timeout, three times over. A message seen again after
that is replayed twice, which the idempotent insert makes harmless."""


@dataclass(frozen=True)
class FailedEvent:
    """One invocation record, and the handle its store needs to remove it."""

    ident: str
    record: Mapping[str, Any]
    handle: Any = None

    @property
    def event(self) -> Mapping[str, Any]:
        return self.record.get("requestPayload") or {}

    @property
    def error(self) -> str:
        response = self.record.get("responsePayload") or {}
        if not isinstance(response, Mapping):
            return str(response)
        kind = response.get("errorType")
        message = response.get("errorMessage", "")
        return f"{kind}: {message}" if kind else str(message)

    @property
    def failed_at(self) -> str:
        return str(self.record.get("timestamp", ""))

    @property
    def keys(self) -> list[str]:
        """The photo keys the event names (decoded as the handler decodes them)."""
        records = self.event.get("Records") or []
        return [
            unquote_plus(str(((r.get("s3") or {}).get("object") or {}).get("key", "")))
            for r in records
        ]


class FailureStore(Protocol):
    where: str
    listable: bool
    """True when :meth:`failed` leaves the records as they are (a page may list them)."""

    def failed(self) -> Iterator[FailedEvent]: ...

    def resolved(self, item: FailedEvent) -> None:
        """The event's press is in MySQL: forget the record."""
        ...

    def kept(self, item: FailedEvent) -> None:
        """The event failed again (or names no press): keep the record visible."""
        ...

    def count(self) -> int: ...


@dataclass
class SpoolFailures:
    """``local``: the invocation records the notifier wrote to ``failed/``."""

    lake: LakeSettings
    listable = True
    """Reading the records leaves them as they are: a page may list each one."""

    @property
    def root(self) -> Path:
        from iot_lake.coffee.local_notifier import spool

        return spool(self.lake)

    @property
    def where(self) -> str:
        return str(self.root / "failed")

    def _paths(self) -> list[Path]:
        return sorted((self.root / "failed").glob("*.json"))

    def failed(self) -> Iterator[FailedEvent]:
        for path in self._paths():
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:  # a torn file: shown, never fatal
                record = {"responsePayload": {"errorMessage": f"unreadable record: {exc}"}}
            yield FailedEvent(path.name, record, path)

    def resolved(self, item: FailedEvent) -> None:
        done = self.root / "done"
        done.mkdir(parents=True, exist_ok=True)
        os.replace(item.handle, done / item.handle.name)

    def kept(self, item: FailedEvent) -> None:
        """The file stays where it is."""

    def count(self) -> int:
        return len(self._paths())


@dataclass
class QueueFailures:
    """``aws``: the invocation records in the function's on-failure SQS queue."""

    client: Any
    queue_url: str
    wait_seconds: int = 1
    _seen: set[str] = field(default_factory=set)
    listable = False
    """Receiving a message hides it for a while: a page shows the queue's count instead."""

    @property
    def where(self) -> str:
        return self.queue_url

    def failed(self) -> Iterator[FailedEvent]:
        """Every message once: received in batches of ten until the queue answers none."""
        while True:
            answer = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=RECEIVE_VISIBILITY_SECONDS,
                MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
            )
            messages = []
            for message in answer.get("Messages", []):
                if message["MessageId"] in self._seen:  # kept earlier: visible again at once
                    self._show(message["ReceiptHandle"])
                else:
                    messages.append(message)
            if not messages:
                return
            for message in messages:
                self._seen.add(message["MessageId"])
                try:
                    record = json.loads(message["Body"])
                except ValueError as exc:
                    record = {"responsePayload": {"errorMessage": f"not a record: {exc}"}}
                yield FailedEvent(message["MessageId"], record, message["ReceiptHandle"])

    def resolved(self, item: FailedEvent) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=item.handle)

    def kept(self, item: FailedEvent) -> None:
        """Visible again at once: the alarm keeps firing and the next replay sees it."""
        self._show(item.handle)

    def _show(self, receipt_handle: str) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
        )

    def count(self) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )


def in_process(handler: Callable[..., Mapping[str, Any]] | None = None) -> Invoke:
    """The handler of the configured backend, run here."""
    if handler is None:
        from iot_lake.coffee.photo_handler import handler as lambda_handler

        handler = lambda_handler
    return lambda event: handler(event, None)


def lambda_invoke(client: Any, function_name: str) -> Invoke:
    """The deployed function, invoked synchronously (no async retries, no new record)."""

    def invoke(event: Mapping[str, Any]) -> Mapping[str, Any]:
        answer = client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            error = payload if isinstance(payload, Mapping) else {"errorMessage": payload}
            from iot_lake.errors import FunctionFailed

            raise FunctionFailed(
                f"{error.get('errorType', answer['FunctionError'])}: {error.get('errorMessage')}"
            )
        return payload if isinstance(payload, Mapping) else {}

    return invoke


@dataclass
class ReplaySummary:
    records: int = 0
    resolved: int = 0
    inserted: int = 0
    duplicates: int = 0
    still_failing: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"failed photo events: replayed={self.records} resolved={self.resolved} "
            f"inserted={self.inserted} duplicates={self.duplicates} "
            f"still_failing={len(self.still_failing)} rejected={len(self.rejected)}"
        )


def replay(store: FailureStore, invoke: Invoke) -> ReplaySummary:
    """Each failed event through the handler again; a record goes only once its press is in
    MySQL (the handler returned: inserted now, or a duplicate of a row already there)."""
    summary = ReplaySummary()
    for item in store.failed():
        summary.records += 1
        if not item.event.get("Records"):
            store.kept(item)
            summary.rejected.append(f"{item.ident}: the record holds no S3 event ({item.error})")
            continue
        try:
            result = invoke(item.event)
        except Exception as exc:
            store.kept(item)
            log.warning("photo event %s failed again: %s", item.ident, exc)
            summary.still_failing.append(f"{item.ident} {item.keys}: {type(exc).__name__}: {exc}")
            continue
        rejected = list(result.get("rejected") or [])
        if rejected:  # names no press: nothing reached MySQL, a person has to look
            store.kept(item)
            reasons = "; ".join(str(r.get("reason")) for r in rejected)
            summary.rejected.append(f"{item.ident} {item.keys}: {reasons}")
            continue
        store.resolved(item)
        summary.resolved += 1
        summary.inserted += int(result.get("inserted", 0))
        summary.duplicates += int(result.get("duplicates", 0))
    return summary


def get_failure_store(lake: LakeSettings, *, quick: bool = False) -> FailureStore:
    """Where the failed events of ``lake``'s backend are kept; ``quick``: one try with a
    short timeout (a page showing the count must not hang when AWS is out of reach)."""
    if lake.is_local:
        return SpoolFailures(lake)
    import boto3
    from botocore.config import Config

    config = (
        Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 1})
        if quick
        else Config(retries={"mode": "standard"})
    )
    client = boto3.client("sqs", region_name=lake.region, config=config)
    url = client.get_queue_url(QueueName=queue_name(lake.name_prefix))["QueueUrl"]
    return QueueFailures(client, url)


def get_invoke(lake: LakeSettings, *, in_process_on_aws: bool = False) -> Invoke:
    """Who runs a replayed event: the handler here on ``local``; the deployed function on
    ``aws`` (its code, its role), or the handler here when ``in_process_on_aws``."""
    if lake.is_local or in_process_on_aws:
        return in_process()
    import boto3

    client = boto3.client("lambda", region_name=lake.region)
    return lambda_invoke(client, function_name(lake.name_prefix))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m iot_lake.coffee.replay_failed", description=__doc__.splitlines()[0]
    )
    p.add_argument("--list", action="store_true", help="show the failed events, replay none")
    p.add_argument(
        "--in-process",
        action="store_true",
        help="aws: run the handler here (needs the Aurora settings) instead of the function",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    lake = settings()
    store = get_failure_store(lake)
    if args.list:
        for item in store.failed():
            sys.stdout.write(f"{item.failed_at}  {item.ident}  {item.keys}  {item.error}\n")
            store.kept(item)
        sys.stderr.write(f"{store.count()} failed photo events in {store.where}\n")
        return 0
    summary = replay(store, get_invoke(lake, in_process_on_aws=args.in_process))
    for line in [*summary.still_failing, *summary.rejected][:10]:
        sys.stderr.write(f"  kept: {line}\n")
    sys.stderr.write(summary.line() + "\n")
    return 1 if summary.still_failing or summary.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
